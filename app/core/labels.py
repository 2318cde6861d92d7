"""The two classes, named once: the engine, the self-test, the GUI and training all read them here.

The lowest layer (imports nothing), so the self-test can name them without loading OpenCV or NumPy.
"""

POSITIVE, NEGATIVE = "PNEUMONIA", "NORMAL"
CLASSES = (NEGATIVE, POSITIVE)  # label 1 = PNEUMONIA, the positive class
