"""``srkit train --init`` from a foreign checkpoint converts the file once, however many nets read it."""

import numpy as np
import torch
from PIL import Image

from srkit.cli import main
from srkit.weights import convert
from srkit.weights.files import load_model
from srkit_srgan.arch import SRResNet
from srkit_srgan.convert import SRRESNET_EXPORT_RULES, rename_keys


def test_init_from_a_foreign_checkpoint_converts_it_once(tmp_path, monkeypatch):
    data = tmp_path / "hr"
    data.mkdir()
    for i in range(2):
        pixels = np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(data / f"{i}.png")
    torch.manual_seed(0)
    lornatang = rename_keys(SRResNet(scale=2, channels=8, blocks=2).state_dict(), SRRESNET_EXPORT_RULES,
                            "SRResNet", source="an srkit")
    checkpoint = tmp_path / "SRResNet_x2.pth.tar"
    torch.save({"state_dict": lornatang}, checkpoint)
    conversions = []
    real_convert = convert.convert_state_dict

    def counted(*args, **kwargs):
        conversions.append(kwargs.get("source"))
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(convert, "convert_state_dict", counted)
    main(["train", "srresnet", "--init", str(checkpoint), "--iters", "1", "--data", str(data),
          "--val", str(data), "--out", str(tmp_path / "run"), "--channels", "8", "--blocks", "2",
          "--patch-size", "32", "--batch-size", "2", "--workers", "0", "--device", "cpu"])
    assert conversions == [str(checkpoint)]  # no --scale: the file's scale was read from the same conversion
    assert load_model(tmp_path / "run" / "model.safetensors").scale == 2
