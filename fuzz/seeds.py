#!/usr/bin/env python3
"""fuzz/seeds.py — (re)write the seed corpora fuzz/corpus/<harness>/ from the
unit tests' cases and the example config, plus a few hand-made seeds.

Seeds are small and meaningful (valid inputs and each kind of near miss);
libFuzzer's own findings stay out of the repo (fuzz/run.sh keeps them in
its work directory). Deterministic: re-running rewrites the same files.

    python3 fuzz/seeds.py
"""
import base64
import hashlib
import json
import os
import re
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def c_string(body):
    """Decode the inside of a C string literal (UTF-8 source)."""
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nx = body[i + 1]
            if nx == "x":
                m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
                out.append(bytes([int(m.group(0), 16) & 0xFF]))
                i += 2 + len(m.group(0))
                continue
            out.append(ESC.get(nx, nx).encode())
            i += 2
            continue
        out.append(ch.encode())
        i += 1
    return b"".join(out)


def literals(path):
    """Every concatenation of adjacent string literals (and string macros) in a C file."""
    src = open(path, encoding="utf-8").read()
    macros = {m.group(1): m.group(2) for m in re.finditer(r'#define (\w+) ((?:"(?:[^"\\]|\\.)*"\s*)+)$', src, re.M)}
    src = re.sub(r"^#.*$", "", src, flags=re.M)
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    tok = re.compile(r'"((?:[^"\\\n]|\\.)*)"|([A-Za-z_]\w*)|(\s+)|(.)', re.S)
    res, cur = [], None
    for m in tok.finditer(src):
        if m.group(1) is not None:
            cur = (cur or b"") + c_string(m.group(1))
        elif m.group(2) is not None and m.group(2) in macros:
            val = b"".join(c_string(x) for x in re.findall(r'"((?:[^"\\]|\\.)*)"', macros[m.group(2)]))
            cur = (cur or b"") + val
        elif m.group(3) is not None:
            continue
        else:
            if cur is not None:
                res.append(cur)
            cur = None
    return res


def write(harness, items):
    d = os.path.join(CORPUS, harness)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    for data in items:
        h = hashlib.sha1(data).hexdigest()[:16]
        if h in seen:
            continue
        seen.add(h)
        with open(os.path.join(d, h), "wb") as f:
            f.write(data)
    print("%-10s %3d seeds" % (harness, len(seen)))


def luhn(digits):
    s = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return str((10 - s % 10) % 10)


def ono(ts="20261126005652", node=7, seq=12, group=2):
    b = "%s%03d%05d%02d" % (ts, node, seq, group)
    return b + luhn(b)


def order(group=2, **kw):
    o = {"order_no": ono(group=group), "group": group, "merchant_id": "m1", "out_trade_no": "o-1",
         "store_id": None, "terminal_id": None, "amount": 100, "currency": "CNY", "channel": "alipay",
         "subject": None, "attach": None, "status": "CREATED", "refunded_amount": 0, "channel_txn_id": None,
         "version": 1, "created_at": "2026-11-26T00:56:52.123Z", "updated_at": "2026-11-26T00:56:52.123Z",
         "expire_at": "2026-11-26T01:01:52.123Z", "paid_at": None, "closed_at": None}
    o.update(kw)
    return o


def main():
    # order numbers
    good = [ono(), ono("20000101000000", 0, 0, 1), ono("99991231235959", 999, 99999, 99), ono("20240229120000")]
    bad = [good[0][:24], good[0] + "0", good[0][:24] + str((int(good[0][24]) + 1) % 10),
           "2026112600565200700012020", ono("20230229120000"), ono("19991231235959"), ono(group=0),
           "2026-11-26T00:56:52Z00000", "", " " * 25, good[0][:10] + "a" + good[0][11:]]
    write("ono", [s.encode() for s in good + bad])

    # request bodies: byte 0 picks the parser (0 create, 1 pay, 2 close, 3 refund)
    lits = [l for l in literals(os.path.join(ROOT, "tests/unit/test_order.c")) if l[:1] in (b"{", b"[", b" ")]
    items = []
    for l in lits:
        k = l.decode("utf-8", "replace")
        sel = 0
        if "channel_txn_id" in k or "paid_amount" in k:
            sel = 1
        elif "out_refund_no" in k or "reason" in k:
            sel = 3
        elif "expected_version" in k and "merchant_id" not in k:
            sel = 2
        items.append(bytes([sel]) + l)
    items += [b"\x02", b"\x02{}", b"\x02  \n", b"\x01{\"channel_txn_id\":\"tx.1\",\"paid_amount\":100}",
              b"\x03{\"out_refund_no\":\"r-1\",\"amount\":1,\"reason\":\"\xe9\x80\x80\"}"]
    write("order_req", items)

    # listing: merchant \0 key=value ...
    def cur(ms, no):
        return base64.urlsafe_b64encode(("1:%d:%s" % (ms, no)).encode()).decode().rstrip("=")
    q = [[b"m1"], [b"m1", b"limit=50"], [b"m1", b"limit=500", b"status=PAID", b"source=groups"],
         [b"m1", b"since=2026-01-02T03:04:05Z", b"until=2026-01-03T00:00:00.5Z"],
         [b"m1", b"cursor=" + cur(1795568212123, ono()).encode()],
         [b"m1", b"cursor=" + cur(0, ono()).encode(), b"limit=1"],
         [b"bad.merchant"], [b"m1", b"limit=0"], [b"m1", b"limit=x"], [b"m1", b"status=PAYED"],
         [b"m1", b"until=2026-01-01T00:00:00"], [b"m1", b"cursor=!!"],
         [b"m1", b"cursor=" + base64.urlsafe_b64encode(b"2:1:x").rstrip(b"=")], [b"m1", b"source=cache"]]
    write("mlist", [b"\0".join(x) for x in q])

    # config: the example, the case files, every YAML-looking literal of test_conf.c
    items = [open(os.path.join(ROOT, "config/skipstore.example.yaml"), "rb").read()]
    cases = os.path.join(ROOT, "tests/unit/conf_cases")
    for f in sorted(os.listdir(cases)):
        items.append(open(os.path.join(cases, f), "rb").read())
    for l in literals(os.path.join(ROOT, "tests/unit/test_conf.c")):
        if b":" in l and (b"\n" in l or b"{" in l) and len(l) < 4096:
            items.append(l)
    write("conf", items)

    # events: flags (1 key, 2 type), [len key] [len type], value
    def ev(val, key=b"m1", typ=b"order"):
        out = bytes([(1 if key is not None else 0) | (2 if typ is not None else 0)])
        if key is not None:
            out += bytes([len(key)]) + key
        if typ is not None:
            out += bytes([len(typ)]) + typ
        return out + val
    j = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode()
    full = order(store_id="s1", terminal_id="t1", subject="咖啡 x2", attach="{\"k\":1}", status="REFUNDED",
                 refunded_amount=100, channel_txn_id="tx.1", version=4, paid_at="2026-11-26T00:57:00.000Z")
    items = [ev(j(order())), ev(j(full)), ev(j(order()), key=None, typ=None), ev(j(order()), key=b"m2"),
             ev(j(order()), typ=b"refund"), ev(b""), ev(b"{not json"), ev(j(dict(order(), surprise=1))),
             ev(j({k: v for k, v in order().items() if k != "status"})), ev(j(order(group=3))),
             ev(j(order(version=2 ** 40))), ev(j(order(subject="\u00e9"))),
             ev(j(order()).replace(b"\"m1\"", b"\"m\xc0\x80\"")), ev(b"[]"), ev(b"null")]
    write("event", items)


if __name__ == "__main__":
    main()
