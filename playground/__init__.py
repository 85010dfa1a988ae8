"""AIGC Playground engines: no UI code here (the app lives in app.py and tabs/)."""

__version__ = "0.1.0"
