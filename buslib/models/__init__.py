"""Networks: the classifier registry (timm, torchvision, RcdNet), U2-Net, and offline pretrained weights."""
