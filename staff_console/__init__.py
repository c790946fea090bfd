"""staff_console."""
