"""The train and encode stages on a small synthetic /interp: resume, determinism, outputs."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from engine.config import VAEConfig
from engine.errors import ConfigError, ModelError, StageError
from engine.progress import Progress, run_quiet
from engine.store import Store

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

from engine.vae import encode, latent_classifier_report, reconstruct, train  # noqa: E402
from engine.vae.data import EXCLUDED, write_synthetic_interp  # noqa: E402
from engine.vae.encoding import load_model, residual  # noqa: E402

N, N_EXCLUDED = 400, 7
# A small net keeps each epoch well under a second on 2 cores; the layer graph
# (periodic padding, strides, dense, sampling) is the one of appendix A. No time
# budget: the cosine schedule is then planned over the epoch cap, deterministically.
CFG = VAEConfig(filters=(8, 16, 32), dense=64, batch_size=16, epochs=3, seed=3, minutes=0.0)


def _store(tmp_path, name="s.h5", seed=0):
    path = tmp_path / name
    write_synthetic_interp(path, N, seed=seed, excluded=N_EXCLUDED)
    return path


def _history(path):
    with Store(path) as st:
        return {k: st.read(f"vae/history/{k}") for k in ("epoch", "loss", "val_loss")}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = _store(tmp_path_factory.mktemp("vae"))
    result = run_quiet(train(path, CFG))
    return path, result


def test_training_lowers_the_loss_and_stores_the_model(trained):
    path, result = trained
    assert result["epoch"] == 3 and result["stopped"] == "epochs"
    h = _history(path)
    np.testing.assert_array_equal(h["epoch"], [1, 2, 3])
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    assert h["val_loss"][-1] < h["val_loss"][0]
    with Store(path) as st:
        assert st.has("vae/model") and st.has("vae_train/optimizer/000")
        assert st.attrs("vae_train")["epoch"] == 3
        assert st.runs("train")[-1]["status"] == "ok"


def test_resume_continues_the_epochs_and_loss_curve_exactly(tmp_path):
    # 2 epochs, then a rerun to 3, equals 3 epochs in one go (same seed): the
    # optimiser moments, random streams and shuffles are all restored. (A constant
    # step: raising the epoch cap of a cosine schedule would change the schedule.)
    cfg = dataclasses.replace(CFG, lr_schedule="constant")
    ref_path = _store(tmp_path, "ref.h5")
    run_quiet(train(ref_path, cfg))
    path = _store(tmp_path)
    first = run_quiet(train(path, dataclasses.replace(cfg, epochs=2)))
    assert first["epoch"] == 2
    second = run_quiet(train(path, cfg))
    assert second["epoch"] == 3
    h, ref = _history(path), _history(ref_path)
    np.testing.assert_array_equal(h["epoch"], [1, 2, 3])
    np.testing.assert_allclose(h["loss"], ref["loss"], rtol=1e-5)
    np.testing.assert_allclose(h["val_loss"], ref["val_loss"], rtol=1e-5)


def test_a_killed_run_resumes_on_the_same_cosine_schedule(tmp_path, trained):
    path = _store(tmp_path)
    gen = train(path, CFG)
    for p in gen:
        if p.done == 1 and p.message.startswith("loss"):   # epoch 1 checkpointed: "kill"
            break
    gen.close()
    result = run_quiet(train(path, CFG))
    assert result["epoch"] == 3 and result["horizon"] == 3 and result["stopped"] == "epochs"
    h, ref = _history(path), _history(trained[0])
    np.testing.assert_allclose(h["loss"], ref["loss"], rtol=1e-5)
    np.testing.assert_allclose(h["val_loss"], ref["val_loss"], rtol=1e-5)


def test_cosine_schedule_decays_from_the_peak_to_the_floor():
    from engine.vae.training import LR_FLOOR, learning_rate

    steps = [learning_rate(CFG, u) for u in np.linspace(0, 1, 11)]
    assert steps[0] == pytest.approx(CFG.learning_rate)
    assert steps[-1] == pytest.approx(LR_FLOOR * CFG.learning_rate)
    assert np.all(np.diff(steps) < 0)
    const = dataclasses.replace(CFG, lr_schedule="constant")
    assert learning_rate(const, 0.7) == CFG.learning_rate


class _Clock:
    """A clock that moves 0.1 s each time training reads it: the budget logic is tested
    on its own arithmetic, not on how busy the machine is."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        self.t += 0.1
        return self.t


def test_a_time_budget_plans_the_schedule_and_ends_it(tmp_path, monkeypatch):
    # epochs of a few tenths of a (fake) second in a 6-second budget: the schedule is
    # planned after the second epoch on what the rest of the budget holds, and training
    # ends when it is done
    from engine.vae import training as training_module

    path = _store(tmp_path)
    monkeypatch.setattr(training_module, "time", _Clock())
    result = run_quiet(train(path, dataclasses.replace(CFG, epochs=1000, minutes=6 / 60)))
    assert 1 < result["horizon"] < 1000
    # the plan extrapolates the first epochs' time: where later epochs run slower (a
    # busy machine, a CPU that clocks down) the budget ends before the plan does
    if result["stopped"] == "budget":
        assert result["horizon"] // 2 <= result["epoch"] < result["horizon"]
    else:
        assert result["epoch"] == result["horizon"] and result["stopped"] == "schedule"


def test_force_trains_on_from_the_weights_with_a_new_schedule(tmp_path):
    path = _store(tmp_path)
    run_quiet(train(path, CFG))                       # 3 epochs: the schedule is done
    more = dataclasses.replace(CFG, epochs=5)
    assert run_quiet(train(path, more))["epoch"] == 3   # done stays done ...
    result = run_quiet(train(path, more, force=True))   # ... unless asked for more
    assert result["epoch"] == 5 and result["horizon"] == 5
    h = _history(path)
    np.testing.assert_array_equal(h["epoch"], [1, 2, 3, 4, 5])
    assert h["loss"][-1] < h["loss"][2]


def test_bad_schedule_or_alignment_settings_are_clear_errors():
    """Refused when the config is built, before any training starts."""
    with pytest.raises(ConfigError, match="lr_schedule = 'linear': must be one of"):
        dataclasses.replace(CFG, lr_schedule="linear")
    with pytest.raises(ConfigError, match="align = 'brightest': must be one of"):
        dataclasses.replace(CFG, align="brightest")


def test_killed_training_resumes_from_the_last_epoch(tmp_path):
    path = _store(tmp_path)
    cfg = dataclasses.replace(CFG, epochs=4)
    gen = train(path, cfg)
    for p in gen:
        assert isinstance(p, Progress)
        if p.done == 2:        # the second epoch is checkpointed: "kill" here
            break
    gen.close()
    with Store(path) as st:
        assert not st.has("vae_train") and not st.has("vae")   # nothing half-committed
    assert list((tmp_path / "s.h5.work").glob("vae_train-*/chunk_*.npz"))
    result = run_quiet(train(path, cfg))
    np.testing.assert_array_equal(_history(path)["epoch"], [1, 2, 3, 4])
    assert result["samples_per_s"] > 0
    assert not list((tmp_path / "s.h5.work").glob("vae_train-*"))   # cleared after commit


def test_a_run_killed_after_its_last_epoch_is_committed_by_the_rerun(tmp_path):
    path = _store(tmp_path)
    gen = train(path, CFG)
    for p in gen:
        if p.done == CFG.epochs and p.message.startswith("loss"):   # checkpointed, not committed
            break
    gen.close()
    with Store(path) as st:
        assert not st.has("vae")
    result = run_quiet(train(path, CFG))
    assert result["epoch"] == CFG.epochs
    with Store(path) as st:
        assert st.has("vae/model") and st.attrs("vae")["stopped"] == "epochs"
    assert not list((tmp_path / "s.h5.work").glob("vae_train-*"))


def test_time_budget_stops_cleanly_with_the_best_weights(tmp_path):
    path = _store(tmp_path)
    result = run_quiet(train(path, dataclasses.replace(CFG, epochs=50, minutes=1e-4)))
    assert result["stopped"] == "budget" and result["epoch"] == 1
    with Store(path) as st:
        assert st.attrs("vae")["best_epoch"] == 1


def test_rerun_of_a_finished_training_does_nothing(trained):
    path, _ = trained
    with Store(path) as st:
        written = st.attrs("vae")["written"]
    assert "up to date" in run_quiet(train(path, CFG))["skipped"]    # engine.provenance
    with Store(path) as st:
        assert st.attrs("vae")["written"] == written


def test_encode_writes_latents_residuals_and_nan_rows(trained):
    path, _ = trained
    result = run_quiet(encode(path, CFG))
    assert result["n_encoded"] == N - N_EXCLUDED
    with Store(path) as st:
        mu, logvar = st.read("vae/mu"), st.read("vae/logvar")
        res, split = st.read("vae/recon_residual"), st.read("interp/split")
        attrs = st.attrs("vae")
        assert st.has("vae/model") and st.has("vae/history/loss")
    assert mu.shape == logvar.shape == (N, 10) and res.shape == (N, 2)
    excl = split == EXCLUDED
    assert excl.sum() == N_EXCLUDED
    assert np.isnan(mu[excl]).all() and np.isnan(res[excl]).all()
    assert np.isfinite(mu[~excl]).all() and (res[~excl] > 0).all()
    # the synthetic families are separable in the latent space even after 3 epochs
    assert attrs["classifier_balanced_accuracy"] > 0.4
    assert len(attrs["classifier_confusion"]) == len(attrs["classifier_classes"]) == 4


def test_encode_without_the_residual_check(trained, tmp_path):
    path = tmp_path / "copy.h5"
    shutil.copy(trained[0], path)
    run_quiet(encode(path, dataclasses.replace(CFG, n_decode=0)))
    with Store(path) as st:
        assert np.isnan(st.read("vae/recon_residual")).all()
        assert np.isfinite(st.read("vae/mu")[0]).all()


def test_reconstruct_decodes_the_latent_mean(trained):
    path, _ = trained
    rows = [0, 5, N - 1]
    out = reconstruct(path, rows)
    assert out.shape == (3, 2, 160)
    assert np.isfinite(out[:2]).all() and np.isnan(out[2]).all()   # last row is excluded
    with Store(path) as st:
        x = st.read("interp/mean", rows=[0, 5])
    # a trained decode is closer to the curve than a flat line is
    assert ((out[:2] - x) ** 2).mean() < (x ** 2).mean()
    assert load_model(path) is load_model(path)      # cached per store and model


def test_aligned_encoding_ignores_the_catalogue_epoch(trained, tmp_path):
    """With ``align = "faintest"`` a curve and its circular shift (another catalogue
    epoch, the same star) get the same latent vector, and the reconstruction follows
    the curve's own phases."""
    path, _ = trained
    shifted = tmp_path / "shifted.h5"
    shutil.copy(path, shifted)
    k = 37
    with Store(shifted, "a") as st:
        g = {name: st.read(f"interp/{name}") for name in st.group_keys("interp")}
        g["mean"], g["std"] = np.roll(g["mean"], k, axis=2), np.roll(g["std"], k, axis=2)
        st.write_group("interp", g)
    run_quiet(encode(path, CFG))
    run_quiet(encode(shifted, CFG))
    with Store(path) as a, Store(shifted) as b:
        mu_a, mu_b = a.read("vae/mu"), b.read("vae/mu")
        res_a, res_b = a.read("vae/recon_residual"), b.read("vae/recon_residual")
    ok = np.isfinite(mu_a).all(axis=1)
    np.testing.assert_allclose(mu_b[ok], mu_a[ok], atol=1e-5)
    np.testing.assert_allclose(np.nanmedian(res_b), np.nanmedian(res_a), rtol=0.05)
    rows = [0, 1, 2]
    np.testing.assert_allclose(reconstruct(shifted, rows), np.roll(reconstruct(path, rows), k, axis=2),
                               atol=1e-5)


def test_phase_shifts_put_the_faintest_point_first():
    from engine.vae.data import phase_shifts, rotate

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 160)).astype("f4")
    shifts = phase_shifts(x, "faintest")
    aligned = rotate(x, shifts)
    assert (aligned.sum(axis=1).argmax(axis=1) == 0).all()
    np.testing.assert_array_equal(rotate(aligned, -shifts), x)
    assert (phase_shifts(x, "none") == 0).all()


def test_a_model_trained_in_other_phases_is_refused(trained):
    path, _ = trained
    with pytest.raises(ModelError, match="align"):
        run_quiet(encode(path, dataclasses.replace(CFG, align="none")))


def test_residual_matches_appendix_c():
    y_gp = np.zeros((1, 2, 4), "f4")
    y_nn = np.array([[[1, 1, 1, 1], [0, 2, 0, 0]]], "f4")
    std = np.array([[[1, 1, 1, 1], [2, 2, 2, 2]]], "f4")
    np.testing.assert_allclose(residual(y_nn, y_gp, std), [[1.0, 0.25]])


def test_encode_refuses_a_model_with_another_architecture(trained):
    path, _ = trained
    with pytest.raises(ModelError, match="another architecture"):
        run_quiet(encode(path, dataclasses.replace(CFG, latent_dim=6)))


def test_latent_classifier_report_scores_the_test_split(trained):
    path, _ = trained
    run_quiet(encode(path, CFG))
    report = latent_classifier_report(path)
    with Store(path) as st:
        n_test = int(((st.read("interp/split") == 2)).sum())
    assert report["n_test"] == n_test
    assert sum(map(sum, report["confusion"])) == n_test
    assert 0.25 < report["balanced_accuracy"] <= 1     # better than guessing 4 families


def test_latent_classifier_report_without_labels_is_empty(trained, tmp_path):
    path = tmp_path / "copy.h5"
    shutil.copy(trained[0], path)
    run_quiet(encode(path, CFG))
    with Store(path, "a") as st:
        st.update_objects({"class": [""] * N}, range(N))
    assert latent_classifier_report(path) == {}
    run_quiet(encode(path, CFG, force=True))   # classes are no input of the provenance
    with Store(path) as st:
        assert not any(k.startswith("classifier_") for k in st.attrs("vae"))


def test_missing_interp_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.h5"
    Store.create(path).close()
    with pytest.raises(StageError, match="no /interp.*interpolate"):
        run_quiet(train(path, CFG))
    with pytest.raises(StageError, match="no /interp"):
        run_quiet(encode(path, CFG))


def test_nan_curves_not_flagged_by_the_gp_stage_are_left_out_and_named(tmp_path, caplog):
    path = _store(tmp_path)
    with Store(path, "a") as st:
        mean = st.read("interp/mean")
        mean[3, 0, 10] = np.nan
        arrays = {k: st.read(f"interp/{k}") for k in ("std", "split", "status", "phase")}
        arrays["split"][3] = 0
        st.write_group("interp", {"mean": mean, **arrays})
    cfg = dataclasses.replace(CFG, epochs=1)
    run_quiet(train(path, cfg))
    assert "SYN0000003" in caplog.text and "left out" in caplog.text
    result = run_quiet(encode(path, cfg))
    assert result["n_encoded"] == N - N_EXCLUDED - 1
    with Store(path) as st:
        assert np.isnan(st.read("vae/mu")[3]).all() and np.isfinite(st.read("vae/mu")[4]).all()
        assert np.isfinite(st.read("vae/history/loss")).all()


def test_flagged_fits_are_encoded_but_never_trained_on(trained, tmp_path):
    """Unphysical GP fits are scored (flagged) but kept out of training; benign ingest
    flags (other bands set aside, merged epochs) exclude nothing; failed fits have no curve."""
    from engine.store import Status
    from engine.vae.data import interp_info

    path = tmp_path / "flags.h5"
    shutil.copy(trained[0], path)
    with Store(path, "a") as st:
        g = {k: st.read(f"interp/{k}") for k in st.group_keys("interp")}
        g["status"][0] |= int(Status.GP_UNPHYSICAL)
        g["status"][1] |= int(Status.OTHER_BANDS | Status.DUPLICATE_TIMES)
        st.write_group("interp", g)
    info = interp_info(path)
    assert info.split[0] == EXCLUDED and info.encodable[0]
    assert info.split[1] != EXCLUDED and info.encodable[1]
    assert not info.encodable[-1]                      # GP_FAILED, NaN curve
    run_quiet(encode(path, CFG))
    with Store(path) as st:
        mu = st.read("vae/mu")
    assert np.isfinite(mu[:2]).all() and np.isnan(mu[-N_EXCLUDED:]).all()


def test_classifier_training_rows_keep_every_rare_class_member():
    from engine.vae.report import _per_class_rows

    y = np.array(["EW"] * 900 + ["CEP"] * 12 + ["SR"] * 88, dtype=object)
    rows = np.arange(0, 1000)
    kept = _per_class_rows(rows, y, cap=50, seed=3)
    counts = {c: int((y[kept] == c).sum()) for c in ("EW", "CEP", "SR")}
    assert counts == {"EW": 50, "CEP": 12, "SR": 50}
    assert len(np.unique(kept)) == len(kept) and np.all(np.diff(kept) > 0)
    assert np.array_equal(kept, _per_class_rows(rows, y, cap=50, seed=3))
    assert not np.array_equal(kept, _per_class_rows(rows, y, cap=50, seed=4))
