"""The console's frame: the menu and home cards each domain adds to, shown by permission."""
