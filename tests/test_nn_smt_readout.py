"""The SMT chunk read-out with the recomputing backward (nn/ops/smt_readout.py) against autograd through the
cumulative sum, and gradcheck in float64 on random complex inputs (H_0 not Hermitian, so every term of the
conjugate-Wirtinger gradients is exercised)."""
import pytest

torch = pytest.importorskip("torch")

from manifoldspec.nn.ops.smt_readout import ChunkReadout, chunk_readout, chunk_readout_autograd  # noqa: E402

NAMES = ("H0", "e", "u", "r", "p", "beta", "P", "G", "F")


def _inputs(B=2, nh=2, n=4, K=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    cdt = (torch.zeros((), dtype=dtype) * 1j).dtype

    def c(*s):
        return torch.randn(*s, dtype=cdt, generator=g)

    def real(*s):
        return torch.randn(*s, dtype=dtype, generator=g)

    return [c(B, nh, K, K), c(B, nh, n, K), c(B, nh, n, K), c(B, nh, n, K), real(B, nh, n), real(B, nh, n),
            real(nh, K, K), real(nh, K, K), real(nh, K, K)]


def _close(a, b, tol):
    return float((a - b).detach().abs().max()) <= tol * float(b.detach().abs().max())


def test_gradcheck():
    args = [x.requires_grad_() for x in _inputs(B=1, nh=2, n=3, K=4)]
    assert torch.autograd.gradcheck(chunk_readout, args)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-13), (torch.float32, 1e-5)], ids=["f64", "f32"])
def test_equals_autograd_reference(dtype, tol):
    args = [x.requires_grad_() for x in _inputs(B=2, nh=3, n=7, K=9, dtype=dtype)]
    z, H = chunk_readout(*args)
    z_ref, H_ref = chunk_readout_autograd(*args)
    assert _close(z, z_ref, tol) and _close(H, H_ref, tol)
    g = torch.Generator().manual_seed(5)
    wz = torch.randn(z.shape, dtype=z.dtype, generator=g)
    wH = torch.randn(H.shape, dtype=H.dtype, generator=g)
    loss = lambda z, H: (z * wz).real.sum() + (H * wH).imag.sum()  # noqa: E731
    for name, a, b in zip(NAMES, torch.autograd.grad(loss(z, H), args), torch.autograd.grad(loss(z_ref, H_ref), args)):
        assert _close(a, b, tol), name


def test_unused_outputs_and_partial_gradients():
    # only z used (H's gradient arrives as zeros) and only some inputs require grad
    args = _inputs(n=5)
    args[2].requires_grad_()
    args[8].requires_grad_()
    z, _ = chunk_readout(*args)
    z_ref, _ = chunk_readout_autograd(*args)
    for a, b in zip(torch.autograd.grad(z.abs().sum(), [args[2], args[8]]),
                    torch.autograd.grad(z_ref.abs().sum(), [args[2], args[8]])):
        assert _close(a, b, 1e-13)


def test_keeps_no_chunk_sized_operator_for_backward():
    # the point of the Function: what it saves is O(n·K) per chunk plus H_0, never the (n, K, K) stack
    B, nh, n, K = 2, 2, 16, 9
    args = [x.requires_grad_() for x in _inputs(B, nh, n, K)]
    z, H = chunk_readout(*args)
    saved = z.grad_fn.saved_tensors
    assert all(t.numel() <= max(B * nh * n * K, B * nh * K * K) for t in saved)
    # nor through a view: the returned H (the next chunk's H0) owns its storage
    assert H.untyped_storage().nbytes() == H.numel() * H.element_size()
    assert isinstance(z.grad_fn, ChunkReadout._backward_cls)
