"""The window console: a window's API (open, call next, recall, finish...), its page and assets."""
