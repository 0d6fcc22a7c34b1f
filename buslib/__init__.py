"""buslib: the library behind the breast-ultrasound study notebooks."""

__version__ = "0.1.0"
