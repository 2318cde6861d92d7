"""PneumoScan: screens chest X-rays for pneumonia (research tool, not a medical device)."""

__version__ = "0.1.0"
