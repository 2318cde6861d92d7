"""Scoring a site's labelled films: metrics, their plots and report (`evaluate`), and the site calibration fit
(`calibrate`). A sibling of `scan`, both standing on the screener."""
