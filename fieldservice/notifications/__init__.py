"""Customer notifications (e-mail, SMS, WeChat) and outgoing webhooks, both through a transactional outbox."""
