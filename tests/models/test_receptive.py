from torch import nn

from analysis.models.receptive import measure_receptive_fields


def test_receptive_field_of_a_known_conv_stack():
    # conv3/1 -> conv3/2 -> maxpool2/2 -> conv5/1: RF = 3, 5, 7, 7 + 4*4 = 23; strides 1, 2, 4, 4
    net = nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1), nn.ReLU(), nn.Conv2d(4, 4, 3, 2, 1), nn.ReLU6(),
                        nn.MaxPool2d(2, 2), nn.Conv2d(4, 4, 5, 1, 2))
    rfs = measure_receptive_fields(net, [("0", 1), ("2", 2), ("4", 4), ("5", 4)])
    assert [r.size for r in rfs] == [3, 5, 7, 23]
    assert not any(r.clipped for r in rfs)


def test_global_pooling_makes_the_field_global():
    class SE(nn.Module):
        def forward(self, x):
            return x * x.mean(dim=(2, 3), keepdim=True)

    net = nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1), SE())
    (rf,) = measure_receptive_fields(net, [("1", 1)], max_probe=128)
    assert rf.clipped
