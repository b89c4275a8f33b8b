"""Wraps a PyTorch training loop in greenai windows, one per epoch.

    python3 -m venv .venv && .venv/bin/pip install ./python torch
    .venv/bin/python examples/python/pytorch_epochs.py --region FR

Prints each epoch's energy, provenance and emissions, then the whole run's; the run is stored in
greenai's database (`greenai runs list` shows it).
"""

import argparse

import torch

import greenai

parser = argparse.ArgumentParser()
parser.add_argument("--region", default=None, help="grid for carbon, e.g. FR, US-CA, gcp:europe-west1")
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

torch.manual_seed(0)
x = torch.randn(4096, 64)
y = (x[:, :8].sum(dim=1) > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

with greenai.Meter(interval=0.1, region=args.region, project="pytorch-example") as meter:
    if meter.carbon_warning:
        print("warning:", meter.carbon_warning)
    for epoch in range(args.epochs):
        meter.begin_window(f"epoch-{epoch}")
        for i in range(0, len(x), 64):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
            loss.backward()
            opt.step()
        m = meter.end_window(f"epoch-{epoch}")
        print(f"epoch {epoch}: loss {loss.item():.3f}, {m.energy_j:.2f} J ({m.provenance}), "
              f"{m.avg_power_w:.1f} W avg, {m.emissions_g * 1e3:.3f} mgCO2e, this process {m.process_energy_j:.2f} J")

whole = meter.measurement
print(f"run {meter.run_id}: {whole.energy_j:.2f} J, {whole.emissions_g * 1e3:.3f} mgCO2e in {whole.duration_s:.1f} s")
