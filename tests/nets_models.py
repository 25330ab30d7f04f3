"""Small real models for the Jacobian tests: an MLP, a net with flash-attention SDPA, a diffusers UNet."""

import torch
import torch.nn.functional as F


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5)
    ).double()


class AttentionNet(torch.nn.Module):
    """Conv, GroupNorm and SDPA attention: on CPU the default SDPA kernel has no forward AD."""

    def __init__(self, channels=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = torch.nn.Conv2d(1, channels, 3, padding=1)
        self.norm = torch.nn.GroupNorm(2, channels)
        self.qkv = torch.nn.Linear(channels, 3 * channels)
        self.out = torch.nn.Conv2d(channels, 4, 3, stride=2, padding=1)

    def forward(self, x):
        h = torch.nn.functional.silu(self.norm(self.conv(x)))
        b, c, hh, ww = h.shape
        seq = h.flatten(2).transpose(1, 2)
        q, k, v = self.qkv(seq).chunk(3, dim=-1)
        att = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        h = h + att.transpose(1, 2).reshape(b, c, hh, ww)
        return self.out(h)


def small_unet(seed=0):
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )


def full_jacobian(f, x):
    """The whole Jacobian, by reverse mode (independent of svdlens), under MATH attention."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        J = torch.autograd.functional.jacobian(lambda z: f(z).reshape(-1), x)
    return J.reshape(-1, x.numel())
