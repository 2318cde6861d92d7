"""The model: its card, the runtimes that run it (ONNX Runtime by default; Keras, the one module family that may
import TensorFlow, only when asked), and what is read off its features: the scope check and the site calibration."""
