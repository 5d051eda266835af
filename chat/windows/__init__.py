"""Tk windows. Only the main thread imports and uses this package."""
