"""Cold start as whole processes, plain HTTP and HTTPS, and the installed footprint.

    python benchmarks/bench_cold_start.py [--runs 9] [--footprint]

Each contender is one whole process that imports, builds its client and makes its first
InvokeEndpoint call, printing the seconds of each stage and its peak RSS (``VmHWM``);
the wall time of the whole process is measured from outside. The processes are interleaved
(one of each contender per run, after a warm-up run that writes the bytecode cache), and
the tables give medians, with bare ``python -c pass`` start-up subtracted on the
"less interpreter start" rows.

- Plain HTTP, ours against boto3, with explicit keys and with credentials in environment
  variables (as on AWS Lambda).
- HTTPS with a full trust store, each client's default trust plus the server's CA, as on
  AWS Lambda (issue 17): ours reads ``SSL_CERT_DIR``, a hashed folder holding the system's
  certificates and the CA (OpenSSL loads only the CA the handshake needs); boto3 and
  ``httpx.post`` read certifi's bundle with the CA appended (``AWS_CA_BUNDLE``, ``verify=``),
  their default trust. Goal: ours at most 0.35x boto3, less interpreter start. Skipped,
  saying so, where there is no system hashed folder or no ``openssl`` command.
- HTTPS: a loopback TLS server (``loopback_server.py --tls``) presents a certificate made
  at run time (a throwaway CA and a server certificate, with ``cryptography``, in a temp
  directory). Ours and boto3 trust the CA through ``AWS_CA_BUNDLE``; the third contender
  is ``import httpx; httpx.post(...)`` with precomputed headers and ``verify=`` a context
  on the same CA. The goal: ours at most 1.0x that ``httpx.post`` process (boto3 quoted).

Every contender runs with a bytecode cache, as an installed package does
(``PYTHONDONTWRITEBYTECODE`` would otherwise recompile an editable checkout in every
process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _harness import AKID, INVOCATIONS, ROOT, SECRET, Server, goal, loopback_server, peer_headers

Row = list[str]

_STAGES = (
    "import time, sys\n"
    "t0 = time.perf_counter()\n"
    "{imp}\n"
    "t1 = time.perf_counter()\n"
    "c = {ctor}\n"
    "t2 = time.perf_counter()\n"
    "{call}\n"
    "t3 = time.perf_counter()\n"
    "hwm = [x for x in open('/proc/self/status') if x.startswith('VmHWM:')][0].split()[1]\n"
    "print(t1 - t0, t2 - t1, t3 - t2, int(hwm) / 1024)\n"
)
_SDK_CALL = (
    "c.invoke_endpoint(EndpointName='ep', Body=b'{}', ContentType='application/json')"
    "['Body'].read()"
)
_ARGS = "region_name='us-east-1', endpoint_url=sys.argv[1]"
_KEYS = f", aws_access_key_id='{AKID}', aws_secret_access_key='{SECRET}'"
_OURS = "from runtime_client import SageMakerRuntime"


def _httpx_post() -> str:
    """``import httpx; httpx.post(...)``: precomputed headers, ``verify=`` the CA bundle."""
    headers = peer_headers(b"{}")
    return _STAGES.format(
        imp="import httpx, ssl, os",
        ctor="ssl.create_default_context(cafile=os.environ['AWS_CA_BUNDLE'])",
        call=f"httpx.post(sys.argv[1] + {INVOCATIONS!r}, content=b'{{}}', "
        f"headers={headers!r}, verify=c).read()",
    )


def _programs() -> dict[tuple[str, str], str]:
    """(contender, variant) -> the code of one whole process; variants: ``keys`` and
    ``env`` (plain HTTP, explicit keys or environment credentials), ``tls`` (HTTPS)."""
    sdk = {
        "ours": (_OURS, "SageMakerRuntime({args})"),
        "boto3": ("import boto3", "boto3.client('sagemaker-runtime', {args})"),
    }
    programs: dict[tuple[str, str], str] = {}
    variants = (("keys", _ARGS + _KEYS), ("env", _ARGS), ("tls", _ARGS + _KEYS))
    for variant, args in (*variants, ("trust", _ARGS + _KEYS)):
        for name, (imp, ctor) in sdk.items():
            programs[(name, variant)] = _STAGES.format(
                imp=imp, ctor=ctor.format(args=args), call=_SDK_CALL
            )
    programs[("httpx.post", "tls")] = programs[("httpx.post", "trust")] = _httpx_post()
    programs[("python -c pass", "keys")] = "pass\n"
    return programs


def _env(
    key: tuple[str, str], pycache: str, ca_bundle: str, trust: tuple[str, str]
) -> dict[str, str]:
    """No AWS or OpenSSL trust settings but those asked for; no config files; a shared
    bytecode cache. ``trust``: the hashed folder (ours) and the full bundle (the peers)."""
    contender, variant = key
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    if variant == "env":  # as on AWS Lambda
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = AKID, SECRET
        env["AWS_SESSION_TOKEN"] = "benchmark-session-token"
    if variant == "tls":
        env["AWS_CA_BUNDLE"] = ca_bundle
    if variant == "trust" and contender == "ours":  # its default trust: the hashed folder
        env["SSL_CERT_DIR"] = trust[0]
    elif variant == "trust":  # boto3's and httpx's default trust: a bundle, here with the CA
        env["AWS_CA_BUNDLE"] = trust[1]
    return env


def full_trust(ca: Path, directory: Path) -> tuple[str, str] | None:
    """``(hashed folder, bundle)``: the system's hashed certificates plus ``ca`` (as
    ``c_rehash`` names it), and certifi's bundle plus ``ca``; None where this machine
    has no hashed folder or no ``openssl`` command."""
    import shutil
    import ssl

    import certifi

    system = ssl.get_default_verify_paths().capath
    openssl = shutil.which("openssl")
    if not system or not os.path.isdir(system) or openssl is None:
        return None
    folder = directory / "hashed"
    folder.mkdir()
    for entry in os.scandir(system):
        if entry.name.split(".")[-1].isdigit():
            os.symlink(os.path.realpath(entry.path), folder / entry.name)
    digest = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(ca)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    shutil.copy(ca, folder / f"{digest}.{sum(1 for _ in folder.glob(digest + '.*'))}")
    bundle = directory / "full-bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca.read_bytes())
    return str(folder), str(bundle)


def _run_process(code: str, url: str, env: dict[str, str]) -> tuple[float, float, list[float]]:
    """Wall seconds, peak RSS (MiB) and the stage seconds the process printed.

    The peak RSS is the process's own ``VmHWM`` (it prints it last): ``ru_maxrss`` of a
    child counts the RSS of the parent it was forked from, which is not the contender's.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, url], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    out = process.stdout.read()
    returncode = process.wait()
    elapsed = time.perf_counter() - start
    if returncode != 0:
        raise RuntimeError(f"cold-start process failed ({returncode}):\n{code}")
    printed = [float(x) for x in out.split()]
    return elapsed, printed[-1] if printed else 0.0, printed[:3]


def make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost (RSA 2048, as
    AWS endpoints present); returns the CA, certificate and key PEM paths."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.now(timezone.utc)
    ca_key, key = (rsa.generate_private_key(65537, 2048) for _ in range(2))
    ca = (
        x509.CertificateBuilder()
        .issuer_name(name("benchmark CA"))
        .subject_name(name("benchmark CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .issuer_name(ca.subject)
        .subject_name(name("127.0.0.1"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


Samples = dict[tuple[str, str], list[tuple[float, float, list[float]]]]


def _measure(
    urls: dict[str, str], runs: int, ca_bundle: str, trust: tuple[str, str] | None
) -> Samples:
    programs = {k: v for k, v in _programs().items() if trust is not None or k[1] != "trust"}
    samples: Samples = {key: [] for key in programs}
    with tempfile.TemporaryDirectory() as pycache:
        envs = {key: _env(key, pycache, ca_bundle, trust or ("", "")) for key in programs}
        url = {key: urls["http" if key[1] in ("keys", "env") else "tls"] for key in programs}
        for key, code in programs.items():  # warm-up: writes the bytecode cache
            _run_process(code, url[key], envs[key])
        for _ in range(runs):  # interleaved, so that noise hits every contender alike
            for key, code in programs.items():
                samples[key].append(_run_process(code, url[key], envs[key]))
    return samples


def _rows_for(
    samples: Samples, label: str, ours: tuple[str, str], peer: tuple[str, str]
) -> list[Row]:
    med = statistics.median
    base = med(s[0] for s in samples[("python -c pass", "keys")])
    ours_t, peer_t = med(s[0] for s in samples[ours]), med(s[0] for s in samples[peer])
    ms = "{:.1f}".format
    # The goals: HTTPS cold start no slower than a bare ``httpx.post`` (issue 12); less
    # interpreter start, at most 0.35x boto3 with a full trust store and 0.30x over plain
    # HTTP, peak RSS at most 0.5x boto3's (issue 17).
    verdict = goal(ours_t / peer_t, "<=", 1.0) if peer == ("httpx.post", "tls") else ""
    limit = {("boto3", "trust"): 0.35, ("boto3", "keys"): 0.30, ("boto3", "env"): 0.30}
    trust_verdict = (
        goal((ours_t - base) / (peer_t - base), "<=", limit[peer]) if peer in limit else ""
    )
    rows = [
        [
            f"cold start, {label}: import+client+1st call (ms) vs {peer[0]}",
            ms(ours_t * 1e3),
            ms(peer_t * 1e3),
            f"{ours_t / peer_t:.2f}",
            verdict,
        ],
        [
            "  same, less interpreter start (ms)",
            ms((ours_t - base) * 1e3),
            ms((peer_t - base) * 1e3),
            f"{(ours_t - base) / (peer_t - base):.2f}",
            trust_verdict,
        ],
    ]
    for index, stage in enumerate(("import", "client construction", "first call")):
        o, p = med(s[2][index] for s in samples[ours]), med(s[2][index] for s in samples[peer])
        rows.append([f"  {stage} (ms)", ms(o * 1e3), ms(p * 1e3), f"{o / p:.2f}", ""])
    o_rss, p_rss = med(s[1] for s in samples[ours]), med(s[1] for s in samples[peer])
    rss_verdict = goal(o_rss / p_rss, "<=", 0.5) if peer == ("boto3", "trust") else ""
    rows.append(
        ["  peak RSS (MiB)", f"{o_rss:.1f}", f"{p_rss:.1f}", f"{o_rss / p_rss:.2f}", rss_verdict]
    )
    return rows


def rows(server: Server, runs: int) -> list[Row]:
    """The cold-start rows: plain HTTP on ``server``, HTTPS on a TLS server of our own."""
    with tempfile.TemporaryDirectory() as directory:
        ca, cert, key = make_tls_files(Path(directory))
        trust = full_trust(ca, Path(directory))
        if trust is None:
            print("HTTPS with a full trust store: skipped (no system hashed folder or openssl)")
        with loopback_server("--tls", str(cert), str(key), scheme="https") as tls:
            samples = _measure({"http": server.url, "tls": tls.url}, runs, str(ca), trust)
    table = [
        *_rows_for(samples, "HTTP, explicit keys", ("ours", "keys"), ("boto3", "keys")),
        *_rows_for(samples, "HTTP, env-var credentials", ("ours", "env"), ("boto3", "env")),
        *_rows_for(samples, "HTTPS, explicit keys", ("ours", "tls"), ("boto3", "tls")),
        *_rows_for(samples, "HTTPS, explicit keys", ("ours", "tls"), ("httpx.post", "tls")),
    ]
    if trust is not None:
        label = "HTTPS, full trust store"
        table += _rows_for(samples, label, ("ours", "trust"), ("boto3", "trust"))
        table += _rows_for(samples, label, ("ours", "trust"), ("httpx.post", "trust"))
    return table


def _installed_size(*requirements: str) -> float:
    with tempfile.TemporaryDirectory() as target:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--disable-pip-version-check",
                "--target",
                target,
                *requirements,
            ],
            capture_output=True,  # pip's warnings too: shown only if it fails
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip install failed:\n{result.stderr}")
        total = sum(p.stat().st_size for p in Path(target).rglob("*") if p.is_file())
    return total / (1024 * 1024)


def footprint_rows() -> list[Row]:
    """Installed size with dependencies (a pip install into a temp dir), ours vs boto3."""
    ours, boto = _installed_size(str(ROOT)), _installed_size("boto3")
    return [
        [
            "installed footprint, with deps (MiB) vs boto3",
            f"{ours:.1f}",
            f"{boto:.1f}",
            f"{ours / boto:.3f}",
            goal(ours / boto, "<=", 0.10),
        ]
    ]


def main() -> None:
    from _harness import isolate_from_aws_settings, print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--footprint", action="store_true", help="also pip-install both")
    args = parser.parse_args()
    isolate_from_aws_settings()
    with loopback_server() as server:
        table = rows(server, args.runs)
    if args.footprint:
        table += footprint_rows()
    print_table(("measure", "ours", "peer", "ours/peer", "goal"), table)


if __name__ == "__main__":
    main()
