"""What the person at the terminal meets: the UI queue, the terminal, the menu, tables."""
