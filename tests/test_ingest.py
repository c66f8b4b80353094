import codecs
from datetime import date

import pytest

from warehouse import ingest
from warehouse.ingest import detect_encoding, detect_format, discover_partitions, read_raw

TEXT = "今年以来，全县新识别纳入监测对象120户。"
LONG = "今年以来，全县新识别纳入监测对象120户，帮扶措施全部落实到户到人，巩固拓展脱贫攻坚成果同乡村振兴有效衔接。"
TRADITIONAL = "今年以來，全縣新識別納入監測對象120戶，幫扶措施全部落實到戶到人，鞏固拓展脫貧攻堅成果同鄉村振興有效銜接。"


def test_date_folders_are_partitions_and_loose_files_take_the_default_date(tmp_path):
    (tmp_path / "2024-03-01").mkdir()
    (tmp_path / "2024-03-01" / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "loose.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / ".hidden").write_text("x")
    parts = discover_partitions(tmp_path, date(2024, 5, 5))
    assert {d: [p.name for p in fs] for d, fs in parts.items()} == {
        date(2024, 3, 1): ["a.txt"],
        date(2024, 5, 5): ["loose.txt"],
    }


def test_missing_landing_zone_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="landing zone"):
        discover_partitions(tmp_path / "nope", date(2024, 1, 1))


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("gb18030"), "gb18030"),
        (TEXT.encode("gbk"), "gb18030"),
        (b"\xff\xfe\xfd" * 0 + bytes([0x81, 0x20, 0xFF]), None),
        (TRADITIONAL.encode("big5"), "big5"),  # Big5 bytes decode as GB18030 too, as mojibake
        (LONG.encode("utf-16-le"), "utf-16-le"),  # no BOM
        (LONG.encode("utf-16-be"), "utf-16-be"),
        (LONG.encode("utf-8")[:-1], "utf-8"),  # cut inside its last character: clean says "truncated"
        (LONG[:20].encode("utf-8") + LONG[20:].encode("gbk"), None),  # mixed encodings
    ],
)
def test_encoding_detection(data, encoding):
    assert detect_encoding(data) == encoding
    if encoding and data.endswith("。".encode(encoding)):
        assert data.decode(encoding).lstrip("\ufeff") in (TEXT, LONG, TRADITIONAL)


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("a.txt", "---\ntitle: x\n---\n<p>正文</p>", "jekyll"),
        ("a.html", "<html><body><p>正文</p></body></html>", "html"),
        ("a.txt", "当前位置:首页\n标题\n来源: 某县乡村振兴局", "portal_text"),
        ("a.txt", "[bookmark: _GoBack]正文\n— - 1 - —", "word_text"),
        ("a.txt", "标题\n正文。", "text"),
        ("a.pdf", "%PDF-1.4", "unsupported"),
    ],
)
def test_format_detection(name, text, fmt):
    assert detect_format(name, text.encode(), "utf-8") == fmt


def test_raw_rows_keep_exact_bytes_and_hash(tmp_path):
    data = codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le")
    (tmp_path / "r.txt").write_bytes(data)
    raw = read_raw([tmp_path / "r.txt"], date(2024, 1, 2), tmp_path)
    row = raw.row(0, named=True)
    assert row["content"] == data and row["size_bytes"] == len(data) and row["encoding"] == "utf-16"
    import hashlib

    assert row["doc_id"] == hashlib.sha256(data).hexdigest() and row["source_path"] == "r.txt"


def test_only_regular_files_inside_the_landing_zone_are_read_the_rest_quarantined(tmp_path):
    """Symlinks out of the zone, loops, dot-files, FIFOs and dangling links get a record with a reason; the
    good document publishes as before (issue 13)."""
    import os

    from conftest import SAMPLE

    from warehouse import pipeline, storage

    landing, day = tmp_path / "landing", date(2024, 3, 1)
    folder = landing / day.isoformat()
    folder.mkdir(parents=True)
    good = sorted((SAMPLE / "2022-02-09").iterdir())[0]
    (folder / good.name).write_bytes(good.read_bytes())
    (folder / "inside-link.txt").symlink_to(folder / good.name)  # a link inside the zone is read
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0", encoding="utf-8")
    (folder / "passwd.txt").symlink_to(outside)
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "dangling.txt").symlink_to(folder / "gone.txt")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    os.mkfifo(folder / "pipe.txt")
    (folder / "linked-dir").symlink_to(tmp_path, target_is_directory=True)

    ((found_day, files),) = ingest.discover_partitions(landing, date(2026, 1, 1)).items()
    assert found_day == day and len(files) == 8
    raw, refused = ingest.read_landing(files, day, landing)
    assert sorted(raw["source_file"]) == sorted([good.name, "inside-link.txt"])
    reasons = {r.path.name: r.reason for r in refused}
    assert set(reasons) == {"passwd.txt", "loop.txt", "dangling.txt", ".DS_Store", "pipe.txt", "linked-dir"}
    assert "outside the landing zone" in reasons["passwd.txt"] and "loop" in reasons["loop.txt"]
    assert "regular file" in reasons["pipe.txt"] and "dot-file" in reasons[".DS_Store"]

    root = tmp_path / "root"
    result = pipeline.run_partition(files, day, landing, root, "hostile", quality=False)
    assert result.status == "published" and result.documents == 1 and result.facts > 5
    quarantined = storage.read_table(root, "quarantine", "raw/documents")
    assert (
        sorted(quarantined["source_file"]) == sorted(reasons)
        and quarantined["reason"].str.len_chars().min() > 10
    )
    assert b"root:x" not in b"".join(storage.read_table(root, "raw", "documents")["content"])


def test_folders_that_are_not_dates_are_skipped_and_named(tmp_path):
    for name in ("2024-03-01", "2022-13-45", "latest", ".git"):
        (tmp_path / name).mkdir()
    (tmp_path / "2024-03-01" / "a.txt").write_text(TEXT, encoding="utf-8")
    parts = ingest.discover_partitions(tmp_path, date(2024, 5, 5))
    assert list(parts) == [date(2024, 3, 1)]  # 2022-13-45 does not stop the run
    problems = {p.path.name: p.reason for p in ingest.landing_problems(tmp_path)}
    assert set(problems) == {"2022-13-45", "latest", ".git"} and "not a date" in problems["latest"]


def test_a_file_over_the_size_limit_is_refused_with_its_size(tmp_path):
    from warehouse.settings import Limits

    (tmp_path / "big.txt").write_text("脱贫" * 1000, encoding="utf-8")
    raw, refused = ingest.read_landing(
        [tmp_path / "big.txt"], date(2024, 1, 1), tmp_path, Limits(max_file_bytes=100)
    )
    assert raw.height == 0 and "too large: 6,000 bytes" in refused[0].reason
