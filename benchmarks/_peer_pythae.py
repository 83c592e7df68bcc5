"""The pythae (PyTorch) worker of ``python -m benchmarks.peers``: one row, in the peer's own Python.

It runs under the peer's interpreter (``--peer-python``, a venv with torch
and pythae), so it imports neither tensorflow nor tfvae, nor anything of
this repository: it is started as a script path and speaks JSON. Its
argument is the row's spec; its answer the last stdout line
``ROW {json}``.

The model is pythae's ``VAE`` with ``VAEConfig(input_dim=(1, 28, 28),
latent_dim=16, reconstruction_loss="bce")`` and our own
``BaseEncoder``/``BaseDecoder`` of tfvae's MLP sizes: encoder 784-512-256,
two linear heads for the mean and the log-variance of the 16-d diagonal
Gaussian; decoder 16-256-512-784 with a sigmoid (pythae's ``bce`` loss takes
probabilities). With ``"architecture": "conv"`` the sizes of ``VAE.conv``:
two 3x3 stride-2 convolutions (32, 64 channels, ReLU), a 256-unit dense
layer, the two heads; decoder 16-256-(7*7*64), two 3x3 stride-2 transposed
convolutions (64, 32 channels, ReLU) and a 3x3 convolution to one channel
with a sigmoid. Training is a plain torch loop doing per step what
``pythae.trainers.BaseTrainer.train_step`` does (``model(inputs)``, then
``zero_grad``, ``loss.backward()``, ``optimizer.step()``, ``loss.item()``),
without its ``DataLoader``/collate and callbacks: the data is one float32
tensor in memory, shuffled each epoch by ``randperm``, and every batch is
binarised afresh with ``torch.bernoulli`` (dynamic binarisation). Adam,
learning rate 1e-3. ``torch.set_num_threads(spec["threads"])``.

Modes: ``speed`` (one warm-up epoch, then ``epochs`` timed ones) and
``quality`` (``epochs`` epochs, then pythae's own importance-sampling
estimate ``VAE.get_nll(test, n_samples=k, batch_size=100)``; despite its
name it returns the mean ``log p(x)``, so the NLL is its negative).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time

import numpy as np
import pythae
import torch
from pythae.models import VAE, VAEConfig
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from torch import nn

ROW_PREFIX = "ROW "
IMAGE_SHAPE = (1, 28, 28)


class Encoder(BaseEncoder):
    """``body`` (image -> ``width`` features) -> (mean, log-variance) of a ``latent_dim`` diagonal Gaussian."""

    def __init__(self, body: list, width: int, latent_dim: int):
        BaseEncoder.__init__(self)
        self.body = nn.Sequential(*body)
        self.mean = nn.Linear(width, latent_dim)
        self.log_var = nn.Linear(width, latent_dim)

    def forward(self, x):
        h = self.body(x)
        return ModelOutput(embedding=self.mean(h), log_covariance=self.log_var(h))


def dense_body(width: int, hidden_units) -> tuple[list, int]:
    """Linear + ReLU layers from ``width`` inputs through ``hidden_units``; the layers and the final width."""
    layers = []
    for units in hidden_units:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    return layers, width


def mlp_encoder(latent_dim: int, hidden_units=(512, 256)) -> Encoder:
    """784 -> hidden... -> the Gaussian's parameters."""
    layers, width = dense_body(int(np.prod(IMAGE_SHAPE)), hidden_units)
    return Encoder([nn.Flatten(), *layers], width, latent_dim)


def conv_encoder(latent_dim: int, filters=(32, 64), hidden_units=(256,)) -> Encoder:
    """(1, 28, 28) -> conv 32, conv 64 (3x3, stride 2, ReLU) -> dense 256 -> the Gaussian's parameters."""
    layers, channels = [], IMAGE_SHAPE[0]
    for width in filters:
        layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.ReLU()]
        channels = width
    side = IMAGE_SHAPE[1] // 2 ** len(filters)
    dense, width = dense_body(channels * side * side, hidden_units)
    return Encoder([*layers, nn.Flatten(), *dense], width, latent_dim)


class Decoder(BaseDecoder):
    """``latent_dim`` -> mirrored hidden... -> 784 Bernoulli probabilities, shaped (1, 28, 28)."""

    def __init__(self, latent_dim: int, hidden_units=(512, 256)):
        BaseDecoder.__init__(self)
        layers, width = dense_body(latent_dim, reversed(hidden_units))
        layers += [nn.Linear(width, int(np.prod(IMAGE_SHAPE))), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, z):
        return ModelOutput(reconstruction=self.body(z).reshape(-1, *IMAGE_SHAPE))


class ConvDecoder(BaseDecoder):
    """z -> dense 256 -> dense 7*7*64 -> transposed conv 64, 32 (stride 2) -> conv to 1 channel, sigmoid."""

    def __init__(self, latent_dim: int, filters=(64, 32), hidden_units=(256,)):
        BaseDecoder.__init__(self)
        side = IMAGE_SHAPE[1] // 2 ** len(filters)
        self.base_shape = (filters[0], side, side)
        layers, width = dense_body(latent_dim, hidden_units)
        layers += [nn.Linear(width, int(np.prod(self.base_shape))), nn.ReLU()]
        self.dense = nn.Sequential(*layers)
        convs, channels = [], filters[0]
        for out in filters:
            convs += [nn.ConvTranspose2d(channels, out, 3, stride=2, padding=1, output_padding=1), nn.ReLU()]
            channels = out
        convs += [nn.Conv2d(channels, IMAGE_SHAPE[0], 3, padding=1), nn.Sigmoid()]
        self.convs = nn.Sequential(*convs)

    def forward(self, z):
        return ModelOutput(reconstruction=self.convs(self.dense(z).reshape(-1, *self.base_shape)))


def build_model(latent_dim: int = 16, architecture: str = "mlp") -> VAE:
    config = VAEConfig(input_dim=IMAGE_SHAPE, latent_dim=latent_dim, reconstruction_loss="bce")
    if architecture == "conv":
        return VAE(config, encoder=conv_encoder(latent_dim), decoder=ConvDecoder(latent_dim))
    return VAE(config, encoder=mlp_encoder(latent_dim), decoder=Decoder(latent_dim))


def train_epoch(model, optimizer, x, batch_size: int, generator) -> float:
    """One pass over ``x`` (probabilities), each batch binarised afresh; the mean training loss."""
    model.train()
    order = torch.randperm(x.shape[0], generator=generator)
    total, steps = 0.0, 0
    for start in range(0, x.shape[0], batch_size):
        batch = torch.bernoulli(x[order[start : start + batch_size]], generator=generator)
        output = model({"data": batch})  # what pythae's trainer calls per step
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        total += output.loss.item()
        steps += 1
    return total / steps


def measure(spec: dict) -> dict:
    torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(spec["seed"])
    generator = torch.Generator().manual_seed(spec["seed"])
    x = torch.from_numpy(np.load(spec["train"])).reshape(-1, *IMAGE_SHAPE).contiguous()
    model = build_model(spec["latent_dim"], spec.get("architecture", "mlp"))
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"])
    batch_size, epochs = spec["batch_size"], spec["epochs"]
    result = {"row": spec["row"], "architecture": spec.get("architecture", "mlp"), "torch": torch.__version__, "pythae": getattr(pythae, "__version__", "0.1.2"),
              "threads": torch.get_num_threads(), "examples": int(x.shape[0])}
    if spec["mode"] == "speed":
        train_epoch(model, optimizer, x, batch_size, generator)  # warm-up, as for the tfvae rows
        seconds, losses = [], []
        for _ in range(epochs):
            start = time.perf_counter()
            losses.append(train_epoch(model, optimizer, x, batch_size, generator))
            seconds.append(time.perf_counter() - start)
        result.update(epoch_seconds=seconds, examples_per_s=x.shape[0] / statistics.median(seconds),
                      final_loss=losses[-1])
    else:
        start = time.perf_counter()
        losses = [train_epoch(model, optimizer, x, batch_size, generator) for _ in range(epochs)]
        result.update(train_seconds=time.perf_counter() - start, final_loss=losses[-1])
        test = torch.from_numpy(np.load(spec["test"])).reshape(-1, *IMAGE_SHAPE).contiguous()
        model.eval()
        torch.manual_seed(spec["seed"] + 1)
        start = time.perf_counter()
        with torch.no_grad():
            log_likelihood = model.get_nll(test, n_samples=spec["k"], batch_size=100)
        result.update(nll_nats=-float(log_likelihood), nll_seconds=time.perf_counter() - start,
                      k=spec["k"], test_examples=int(test.shape[0]))
    result["self_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


if __name__ == "__main__":
    print(ROW_PREFIX + json.dumps(measure(json.loads(sys.argv[1]))), flush=True)
