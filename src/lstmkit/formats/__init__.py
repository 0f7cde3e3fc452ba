"""Files and formats: model files (modelfile), training checkpoints (checkpoint), weights to and from PyTorch and
Keras (interop), and ONNX export (export)."""
