"""Grad-CAM: the evidence map from a forward pass's feature map and channel weights, and its one colouring."""
