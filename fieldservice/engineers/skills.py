"""Skills are product categories (Product.category codes); the customers domain owns the list and labels."""

from fieldservice.customers.categories import CATEGORIES, category_label

# Kept under this name for the domains that label skills (knowledge): one list, the customers domain's.
CATEGORY_LABELS = CATEGORIES

__all__ = ["CATEGORY_LABELS", "category_label"]
