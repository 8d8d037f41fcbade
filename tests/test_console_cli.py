"""The console channel and the `maeum` CLI, run as real subprocesses."""
import csv
import io
import json

from nlp.labels import LABELS


def test_piped_chat_answers_and_stores_a_correction(run_maeum):
    result = run_maeum("chat", input="오늘 면접 망쳤어\n/fix sadness\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "안녕하세요" in out
    assert "https://www.youtube.com/" in out
    assert any(name in out for name in ("기쁨", "불안", "슬픔", "분노"))
    assert "😢 슬픔으로 기억할게요" in out
    assert "오늘 면접 망쳤어" not in result.stderr  # message text is not logged at INFO

    exported = run_maeum("export", "corrections", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(rows) == 1
    assert rows[0]["text"] == "오늘 면접 망쳤어" and rows[0]["corrected"] == "sadness"
    assert rows[0]["predicted"] in LABELS and rows[0]["created_at"]
    as_csv = run_maeum("export", "corrections", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert table[0]["corrected"] == "sadness" and table[0]["user_id"] == rows[0]["user_id"]


def test_console_commands_and_bad_input(run_maeum):
    lines = [
        "/fix joy",  # nothing to fix yet
        "",
        "😀😀",
        "hello there",
        "내일 시험인데 하나도 못 했어 어떡하지",
        "/more",
        "/mode lift",
        "/fix 기쁨",
        "/fix 배고픔",
        "/privacy",
        "/forget",
        "/more",
        "/unknown",
        "/quit",
        "이 줄은 읽히지 않아요",
    ]
    result = run_maeum("chat", input="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for fragment in ["아직 고칠 메시지가 없어요", "비어 있어요", "이모지나 기호", "한국어만", "다른 노래도 골라 봤어요",
                     "전환 모드", "😊 기쁨으로 기억할게요", "알 수 없는 감정", "메시지 1개", "모두 지웠어요",
                     "먼저 지금 기분을", "모르는 명령", "또 이야기해요"]:
        assert fragment in out, fragment
    assert "Traceback" not in out + result.stderr


def test_run_without_token_falls_back_to_console_with_a_hint(run_maeum):
    result = run_maeum("run", input="친구가 생일 선물을 보내줬어 감동이야\n")
    assert result.returncode == 0, result.stderr
    assert "TELEGRAM_BOT_TOKEN" in result.stdout
    assert "https://www.youtube.com/" in result.stdout


def test_classify_writes_one_json_object_per_line(run_maeum):
    texts = ["오늘 합격 소식 들었어 너무 행복해", "", "진짜 어이없네 왜 나한테 화풀이야"]
    result = run_maeum("classify", input="\n".join(texts) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == texts
    for row in (rows[0], rows[2]):
        assert set(row) == {"text", "label", "confidence", "scores"}
        assert set(row["scores"]) == set(LABELS)
        assert abs(sum(row["scores"].values()) - 1) < 1e-4
        assert row["label"] == max(row["scores"], key=row["scores"].get)
        assert row["confidence"] == row["scores"][row["label"]]
    assert rows[0]["label"] == "joy" and rows[2]["label"] == "anger"
    assert rows[1]["label"] is None and rows[1]["error"] == "empty"


def test_errors_are_one_actionable_line(run_maeum, tmp_path):
    cases = [
        ("classify", "--model", str(tmp_path / "nowhere")),
        ("train", "--data", str(tmp_path / "no-data")),
        ("train", "--kind", "transformer", "--data", str(tmp_path / "no-data")),
        ("train", "--kind", "lstm"),
        ("pretrain", "--data", str(tmp_path / "no-data"), "--out", str(tmp_path / "pre")),
        ("eval", str(tmp_path / "absent.tsv")),
        ("--config", str(tmp_path / "absent.toml"), "chat"),
        ("export", "corrections"),
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage\n", encoding="utf-8")
    cases.append(("--config", str(bad), "chat"))
    for args in cases:
        result = run_maeum(*args, env={"MAEUM_STORAGE_PATH": str(tmp_path / "fresh" / "none.sqlite3")})
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("maeum: "), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_telegram_without_token_says_how_to_connect(run_maeum):
    result = run_maeum("telegram")
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr


def test_training_commands_show_their_own_options(run_maeum):
    for args, option in [(("pretrain", "--help"), "--vocab-size"), (("train", "--kind", "transformer", "--help"), "--scratch"),
                         (("train", "--help"), "--chat-test"), (("train", "--kind=baseline", "--help"), "--keyword-mask"),
                         (("--config", "config.toml", "pretrain", "--help"), "--vocab-size")]:
        result = run_maeum(*args)
        assert result.returncode == 0 and option in result.stdout, result.stderr


def test_broken_model_manifests_are_one_line_errors(run_maeum, tmp_path):
    for i, manifest in enumerate(['[1, 2]', '{"kind": "baseline", "labels": ["joy", "anxiety", "sadness", "anger"], "max_chars": "lots"}',
                                  '{"kind": "mystery", "labels": ["joy", "anxiety", "sadness", "anger"]}', "{not json"]):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        (folder / "maeum_model.json").write_text(manifest, encoding="utf-8")
        result = run_maeum("classify", "--model", str(folder), input="안녕\n")
        assert result.returncode == 2, (manifest, result.stderr)
        assert result.stderr.startswith("maeum: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unreachable_telegram_server_is_a_one_line_error(run_maeum):
    token = "123456:unreachable-test-token"
    result = run_maeum("run", env={"TELEGRAM_BOT_TOKEN": token, "MAEUM_TELEGRAM_BASE_URL": "http://127.0.0.1:9/bot",
                                   "MAEUM_LOGGING_LEVEL": "WARNING"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("maeum: ") and "연결할 수 없습니다" in lines[0], result.stderr
    assert token not in result.stdout + result.stderr
