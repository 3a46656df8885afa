"""[train] extra: architectures behind one registry, augmentation, the trainer and ONNX export (PyTorch).
Nothing in the inference path imports this package."""
