"""Request signing for the integration tests (spec §10), the Python twin of
client/httpc.c: every test request to skipstored is signed with a key from
SKIP_KEYS (default: SKIP_KEY_ID, else the widest admin key), and every
answer's Skip-Signature is verified — a 2xx without a valid one fails the
test, like it fails the C client.

    Authorization: SKIP-HMAC-SHA256 key="<id>", ts="<unix s>", nonce="<16-64 [A-Za-z0-9]>", sig="<b64>"
    string to sign = METHOD \\n PATH_AND_QUERY \\n ts \\n nonce \\n hex(sha256(body)) \\n
    Skip-Signature: ts="<unix s>", sig="<b64 HMAC(STATUS \\n nonce \\n ts \\n hex(sha256(body)) \\n)>"
"""
import base64
import hashlib
import hmac
import os
import re
import secrets
import string
import time

import yaml

_cache = {}


class SignatureError(AssertionError):
    pass


def keys(path=None):
    """{id: {"secret": bytes, "role": str, "merchants": [..]}} from the key file."""
    path = path or os.environ.get("SKIP_KEYS")
    if not path:
        return {}
    st = os.stat(path)
    cached = _cache.get(path)
    if cached and cached[0] == st.st_mtime_ns:
        return cached[1]
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    out = {}
    for k in doc.get("keys", []):
        out[k["id"]] = {"secret": base64.b64decode(k["secret"]), "role": k["role"],
                        "merchants": list(k.get("merchants", [])), "not_after": k.get("not_after")}
    _cache[path] = (st.st_mtime_ns, out)
    return out


def pick(key_id=None, role=None, path=None):
    """A key id: the one named, else $SKIP_KEY_ID, else the widest key of role (default admin)."""
    ks = keys(path)
    if not ks:
        return None
    if key_id:
        if key_id not in ks:
            raise KeyError("no key %r in %s" % (key_id, path or os.environ.get("SKIP_KEYS")))
        return key_id
    if os.environ.get("SKIP_KEY_ID") and role is None:
        return os.environ["SKIP_KEY_ID"]
    role = role or "admin"
    cands = [i for i, k in ks.items() if k["role"] == role]
    cands.sort(key=lambda i: ks[i]["merchants"] != ["*"])
    return cands[0] if cands else None


def nonce():
    al = string.ascii_letters + string.digits
    return "".join(secrets.choice(al) for _ in range(24))


def sign(method, target, body, key_id, ts=None, n=None, path=None, secret=None):
    """The Authorization header value and the nonce used."""
    sec = secret if secret is not None else keys(path)[key_id]["secret"]
    body = body or b""
    if isinstance(body, str):
        body = body.encode()
    ts = int(time.time()) if ts is None else ts
    n = n or nonce()
    sts = "%s\n%s\n%d\n%s\n%s\n" % (method, target, ts, n, hashlib.sha256(body).hexdigest())
    sig = base64.b64encode(hmac.new(sec, sts.encode(), hashlib.sha256).digest()).decode()
    return 'SKIP-HMAC-SHA256 key="%s", ts="%d", nonce="%s", sig="%s"' % (key_id, ts, n, sig), n


def response_sig_ok(key_id, status, n, body, header, path=None, secret=None):
    if not header:
        return False
    m = re.fullmatch(r'ts="(\d+)", sig="([A-Za-z0-9+/=]+)"', header)
    if not m:
        return False
    sec = secret if secret is not None else keys(path)[key_id]["secret"]
    body = body or b""
    sts = "%d\n%s\n%s\n%s\n" % (status, n, m.group(1), hashlib.sha256(body).hexdigest())
    want = base64.b64encode(hmac.new(sec, sts.encode(), hashlib.sha256).digest()).decode()
    return hmac.compare_digest(want, m.group(2))


def check_response(key_id, status, n, body, header, path=None):
    """Raise SignatureError when the answer is not signed as it must be."""
    if header is None:
        if 200 <= status < 300:
            raise SignatureError("a %d answer without Skip-Signature" % status)
        return
    if not response_sig_ok(key_id, status, n, body, header, path):
        raise SignatureError("the %d answer's Skip-Signature does not verify" % status)
