"""The app's own package: holds data files read with importlib.resources."""
