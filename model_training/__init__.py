"""Training and evaluation of the bundled MobileNetV2 pneumonia model.

Every image goes through the engine's `app.core.io.preprocessing.load_and_preprocess`, the same code the
app predicts with, so there is no train/serve skew.
"""
