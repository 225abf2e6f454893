"""The Hugging Face Trainer callback on a tiny randomly initialised BERT that memorises its data."""

from __future__ import annotations

import math
import warnings

import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow


class _Tokens(torch.utils.data.Dataset):
    def __init__(self, ids, labels):
        self.ids, self.labels = ids, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones_like(self.ids[i]),
            "labels": self.labels[i],
        }


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 64, (n, 12), generator=g)
    # weak rule (token 7 present) drowned in label noise: a 2-layer BERT memorises the train set
    rule = (ids == 7).any(1).long()
    flip = torch.rand(n, generator=g) < 0.3
    return _Tokens(ids, torch.where(flip, 1 - rule, rule))


def _accuracy(pred):
    logits, labels = pred
    return {"accuracy": float((logits.argmax(-1) == labels).mean())}


def test_trainer_callback_records_warns_and_diagnoses(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_DISABLED", "true")
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    from advisor.integrations.transformers import AdvisorCallback

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=16,
        num_labels=2,
    )
    model = BertForSequenceClassification(config)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=30,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=128,
        learning_rate=3e-3,
        eval_strategy="epoch",
        logging_strategy="epoch",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    callback = AdvisorCallback(classes=2, path=tmp_path / "advisor_state.json")
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=_data(48, 1),
        eval_dataset=_data(256, 2),
        compute_metrics=_accuracy,
        callbacks=[callback],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()

    curves = callback.curves
    assert {("train", "loss"), ("val", "loss"), ("val", "accuracy")} <= set(curves.series)
    assert curves.val_loss.epochs.tolist() == [float(e) for e in range(1, 31)]
    fit = callback.diagnose()
    assert fit.verdict == "overfitting"
    ours = [w for w in caught if "advisor: the run started overfitting" in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert callback.warned_at is not None and callback.warned_at < 30
    alert = callback.alerts[0]
    assert alert.kind == "overfitting" and abs(alert.onset_epoch - fit.onset_epoch) <= 5
    # the saved log reads back like a trainer_state.json
    import advisor

    again = advisor.load_curves(tmp_path / "advisor_state.json")
    assert again.val_loss.values.tolist() == curves.val_loss.values.tolist()
    assert all(math.isfinite(v) for v in again.val_loss.values)
