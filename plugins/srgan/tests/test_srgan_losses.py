import pytest
import torch

from srkit.api import SrkitError
from srkit_srgan.losses import GAN_TYPES, AdversarialLoss


@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_generator_loss_falls_as_d_believes_the_fakes(gan_type):
    adversarial = AdversarialLoss(gan_type=gan_type)
    real = torch.full((4, 1), 1.0)
    doubted, believed = torch.full((4, 1), -2.0), torch.full((4, 1), 2.0)
    loss_doubted, loss_believed = adversarial(doubted, real), adversarial(believed, real)
    assert torch.isfinite(loss_doubted) and torch.isfinite(loss_believed)
    assert loss_believed < loss_doubted


@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_discriminator_terms_fall_as_d_separates_real_from_fake(gan_type):
    adversarial = AdversarialLoss(gan_type=gan_type)
    # outputs between the LSGAN targets (0 fake, 1 real), so every variant has the same order
    confused = adversarial.discriminator_terms(torch.full((4, 1), 0.5), torch.full((4, 1), 0.5))
    sharp = adversarial.discriminator_terms(torch.full((4, 1), 0.9), torch.full((4, 1), 0.1))
    assert all(torch.isfinite(t) and t >= 0 for t in (*confused, *sharp))
    assert sharp[0] < confused[0] and sharp[1] < confused[1]


def test_bce_generator_loss_is_the_papers_minus_log_d():
    adversarial = AdversarialLoss(gan_type="bce")
    logits = torch.tensor([[0.3], [-1.2]])
    expected = -torch.log(torch.sigmoid(logits)).mean()
    torch.testing.assert_close(adversarial(logits), expected)


def test_unknown_gan_type_is_a_one_line_error():
    with pytest.raises(SrkitError, match="wgan"):
        AdversarialLoss(gan_type="wgan")


def test_the_adversarial_loss_is_not_a_registered_loss(srkit_plugins) -> None:
    registry = srkit_plugins("srkit_srgan")
    assert registry.names("loss") == ["l1", "mse", "vgg"]
