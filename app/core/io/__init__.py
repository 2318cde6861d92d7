"""Files in and out: decoding an image file (JPEG, PNG, TIFF, DICOM), the one preprocessing pipeline, the raw-image
quality checks, listing a folder's images, and writing outputs safely. The lowest layer above the shared vocabulary
(`app.core.errors`, `numbers`, `progress`, `resources`): it knows nothing of the model."""
