"""Multi-process training on the CPU: torchrun, 2 processes, gloo backend.

The same ``fit`` runs single-process and under ``torchrun``; with the global
batch split across processes and gradients averaged by DDP, two processes must
end with identical weights, each process must see half of every global batch,
and the result must match a single-process run with the same global batch.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch
    from torch import nn
    from torch.utils.data import Dataset
    from papseg_utils.train import TrainConfig, fit

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Conv2d(3, 4, 3, padding=1)
            self.head = nn.Conv2d(4, 3, 1)
        def forward(self, x):
            return self.head(torch.relu(self.encoder(x)))

    class Data(Dataset):
        def __init__(self):
            g = torch.Generator().manual_seed(0)
            self.x = torch.randn(8, 3, 8, 8, generator=g)
            self.y = (self.x[:, 0] > 0).long() + (self.x[:, 1] > 0.7).long()
            self.seen = []
        def __len__(self):
            return 8
        def __getitem__(self, i):
            self.seen.append(int(i))
            return {"image": self.x[i], "mask": self.y[i]}

    out = sys.argv[1]
    rank = int(os.environ.get("RANK", 0))
    torch.manual_seed(0)
    model, data = Net(), Data()
    cfg = TrainConfig(num_epochs=1, batch_size=4, lr=0.1, lr_encoder=0.1, loss="ce", device="cpu",
                      num_workers=0, progress=False, max_steps_per_epoch=2, max_grad_norm=None,
                      schedule="constant", save_best=False)
    hist = fit(model, data, None, cfg, os.path.join(out, "run"), scheme="herlev3")
    torch.save(model.state_dict(), os.path.join(out, f"weights_{rank}.pt"))
    with open(os.path.join(out, f"seen_{rank}.json"), "w") as f:
        json.dump({"seen": data.seen, "steps": hist.last["step"], "world": int(os.environ.get("WORLD_SIZE", 1))}, f)
    """
)


def _run(cmd, cwd, timeout=240):
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"


@pytest.mark.slow
def test_two_processes_gloo_match_single_process(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT)
    (tmp_path / "ddp").mkdir()
    (tmp_path / "single").mkdir()
    _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(script),
            str(tmp_path / "ddp"),
        ],
        repo,
    )
    _run([sys.executable, str(script), str(tmp_path / "single")], repo)

    w0 = torch.load(tmp_path / "ddp" / "weights_0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "ddp" / "weights_1.pt", weights_only=True)
    ws = torch.load(tmp_path / "single" / "weights_0.pt", weights_only=True)
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "ranks diverged"
    assert all(torch.allclose(w0[k], ws[k], atol=1e-6) for k in w0), "DDP differs from one process"

    s0, s1, single = (
        json.loads((tmp_path / d / f"seen_{r}.json").read_text())
        for d, r in (("ddp", 0), ("ddp", 1), ("single", 0))
    )
    assert s0["world"] == s1["world"] == 2 and s0["steps"] == s1["steps"] == single["steps"] == 2
    assert len(s0["seen"]) == len(s1["seen"]) == 4  # 2 steps x (global batch 4 / 2 processes)
    assert not set(s0["seen"]) & set(s1["seen"])
    # each global batch = rank 0's half + rank 1's half, in the single-process order
    assert s0["seen"][:2] + s1["seen"][:2] == single["seen"][:4]
    assert s0["seen"][2:] + s1["seen"][2:] == single["seen"][4:8]
    assert (tmp_path / "ddp" / "run" / "last" / "model.safetensors").is_file()
