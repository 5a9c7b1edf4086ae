#!/usr/bin/env bash
# Generate a large, realistic git repository for benchmarks.
#
# Usage: bench/make-corpus.sh OUT_DIR [SCALE]
#
#   OUT_DIR  where to create the repository (a bare repo; must not exist or
#            be empty).
#   SCALE    amount of content, default 1.0.  SCALE=0.05 gives a small corpus
#            for quick checks; 1.0 gives >=100k objects and >=100 MB of pack.
#
# The history is synthesised from real source text found on this machine
# (/usr/include, /usr/share, Python standard libraries, pyenv installs,
# site-packages, the Google Cloud SDK, cargo registry sources, ...):
#
#   * files are imported in directory-coherent batches over the history;
#   * vendored trees evolve through real upstream versions (CPython
#     2.7 -> 3.6 -> ... -> 3.13 from pyenv, crates with several versions in
#     the cargo registry), which produces realistic deltas;
#   * every commit also makes small line edits (modify / insert / delete
#     lines) to a handful of files, with occasional renames and deletions,
#     so most blob versions are deltas of earlier ones.
#
# Everything is deterministic (seeded PRNG, sorted directory walks) for a
# given machine.  The stream is fed to `git fast-import`, then the repo is
# repacked with `git repack -adf --window=10 --depth=50` like a real repo.
#
# Environment knobs (optional):
#   CORPUS_SEED   PRNG seed (default 20240601)
#   CORPUS_ROOTS  extra source roots, colon separated, imported as
#                 extra/<basename>/...
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

OUT=$1
SCALE=${2:-1.0}

if ! python3 -c "import sys; s=float(sys.argv[1]); sys.exit(0 if s > 0 else 1)" "$SCALE" 2>/dev/null; then
    echo "make-corpus: SCALE must be a positive number, got '$SCALE'" >&2
    exit 2
fi
if [[ -e "$OUT" ]] && [[ -n "$(ls -A "$OUT" 2>/dev/null)" ]]; then
    echo "make-corpus: $OUT exists and is not empty; refusing to overwrite" >&2
    exit 1
fi

start=$(date +%s)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Isolate from the user's git config (hooks, gc.auto, signing, ...).
export GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_GLOBAL=/dev/null
export GIT_DIR="$OUT"

git init -q --bare -b main "$OUT"
git config gc.auto 0
git config core.compression 6
git config pack.threads 2

log() { printf 'make-corpus: [%3ds] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }

log "generating history into $OUT (scale $SCALE)"

# Python generator -> fast-import.  --depth=0: no deltas in the intermediate
# pack (the final `repack -f` recomputes them all anyway; this saves time).
python3 - "$SCALE" "${CORPUS_SEED:-20240601}" "${CORPUS_ROOTS:-}" <<'PY' |
import os, sys, re, zlib, random, glob

SCALE = float(sys.argv[1])
SEED = int(sys.argv[2])
EXTRA_ROOTS = [r for r in sys.argv[3].split(':') if r]
R = random.Random(SEED)
out = os.fdopen(sys.stdout.fileno(), 'wb', 1 << 20)

def log(msg):
    sys.stderr.write('make-corpus: %s\n' % msg)
    sys.stderr.flush()

# --------------------------------------------------------------------------
# Source material
# --------------------------------------------------------------------------
EXTS = set('''.py .pyi .h .hh .hpp .hxx .c .cc .cpp .cxx .rs .go .java .js .mjs
.ts .pl .pm .t .pod .rb .lua .tcl .el .lisp .scm .sh .bash .zsh .awk .sed .vim
.txt .md .rst .tex .toml .yaml .yml .json .xml .html .css .in .cfg .ini .m4 .am
.mk .cmake .inc .def .S .s .y .l .proto .sql'''.split())
CODE_EXTS = set('''.py .pyi .h .hh .hpp .c .cc .cpp .rs .go .java .js .ts .pl .pm
.rb .lua .tcl .el .sh .vim .css .toml .yaml .yml .cmake .mk .proto .sql'''.split())
MIN_SIZE, MAX_SIZE = 64, 512 * 1024
SAFE = re.compile(r'^[A-Za-z0-9._+@=,~-]+$')
SKIP_DIRS = {'__pycache__', '.git', 'site-packages', 'dist-packages', 'node_modules'}

def keep(rel):
    """Deterministic path sampling for SCALE < 1."""
    if SCALE >= 1.0:
        return True
    return (zlib.crc32(rel.encode()) % 100000) < SCALE * 100000

def walk(root, skip=SKIP_DIRS):
    """Yield (relpath, abspath, size) for candidate text files, sorted."""
    res = []
    if not os.path.isdir(root):
        return res
    for dp, dns, fns in os.walk(root):
        dns[:] = sorted(d for d in dns if d not in skip and SAFE.match(d)
                        and not os.path.islink(os.path.join(dp, d)))
        for f in sorted(fns):
            if not SAFE.match(f):
                continue
            ext = os.path.splitext(f)[1]
            if ext not in EXTS:
                continue
            p = os.path.join(dp, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not (st.st_mode & 0o170000 == 0o100000):
                continue
            if st.st_size < MIN_SIZE or st.st_size > MAX_SIZE:
                continue
            rel = os.path.relpath(p, root)
            if keep(rel):
                res.append((rel, p, st.st_size))
    return res

def read(p):
    try:
        with open(p, 'rb') as fh:
            d = fh.read(MAX_SIZE + 1)
    except OSError:
        return None
    if len(d) > MAX_SIZE or b'\0' in d:
        return None
    return d

class Series:
    """A tree in the repo (prefix) that evolves through versions.
    Each version is a list of (relpath, abspath, size)."""
    def __init__(self, name, prefix, versions, weight=1.0):
        self.name, self.prefix, self.weight = name, prefix, weight
        self.versions = [(lbl, files) for lbl, files in versions if files]
        self.next_import = 0       # index into versions[0] files
        self.cur = 0               # current version index
        self.live = set()          # repo paths currently owned by the series

    def remaining(self):
        if not self.versions:
            return 0
        return len(self.versions[0][1]) - self.next_import

def vkey(s):
    return [(0, int(x), '') if x.isdigit() else (1, 0, x) for x in re.split(r'[.\-+]', s)]

series = []

def add_series(name, prefix, versions, weight=1.0):
    s = Series(name, prefix, versions, weight)
    if s.versions:
        series.append(s)

# Vendored CPython: pyenv versions + the system python, as successive upgrades.
cpy = []
for d in glob.glob('/root/.pyenv/versions/*') + glob.glob(os.path.expanduser('~/.pyenv/versions/*')):
    v = os.path.basename(d)
    if not re.match(r'^\d+\.\d+\.\d+$', v):
        continue
    mm = '.'.join(v.split('.')[:2])
    cpy.append((v, os.path.join(d, 'lib', 'python' + mm), os.path.join(d, 'include', 'python' + mm)))
for d in glob.glob('/usr/lib/python3.*'):
    mm = os.path.basename(d)[len('python'):]
    if re.match(r'^\d+\.\d+$', mm) and os.path.isfile(os.path.join(d, 'os.py')):
        # The system python sorts before the pyenv build of the same minor.
        cpy.append((mm + '.0-system', d, '/usr/include/python' + mm))
seen_v = set()
cpy_versions = []
for v, lib, inc in sorted(cpy, key=lambda t: vkey(t[0])):
    if v in seen_v:
        continue
    seen_v.add(v)
    files = [('Lib/' + r, p, s) for r, p, s in walk(lib)]
    files += [('Include/' + r, p, s) for r, p, s in walk(inc)]
    cpy_versions.append((v, files))
add_series('cpython', 'vendor/cpython', cpy_versions, weight=4.0)

# Cargo registry: one series per crate, versions as upgrades.
crates = {}
for reg in sorted(glob.glob(os.path.expanduser('~/.cargo/registry/src/*')) +
                  glob.glob('/root/.cargo/registry/src/*')):
    for d in sorted(glob.glob(os.path.join(reg, '*'))):
        m = re.match(r'^(.*?)-(\d+\.\d+\.\d+.*)$', os.path.basename(d))
        if m and SAFE.match(m.group(1)):
            crates.setdefault(m.group(1), {})[m.group(2)] = d
for name in sorted(crates):
    vers = sorted(crates[name].items(), key=lambda t: vkey(t[0]))
    add_series('crate ' + name, 'rust/vendor/' + name,
               [(v, walk(d, SKIP_DIRS | {'target'})) for v, d in vers], weight=2.0)

# Plain trees, imported once and then edited.
plain = [
    ('include', 'third_party/include', '/usr/include'),
    ('gcc-include', 'third_party/gcc', '/usr/lib/gcc'),
    ('share', 'share', '/usr/share'),
    ('dist-packages', 'python/dist-packages', '/usr/lib/python3/dist-packages'),
    ('cloud-sdk', 'cloud/sdk', '/usr/lib/google-cloud-sdk'),
    ('node', 'web/node_modules', '/usr/lib/node_modules'),
    ('perl', 'perl/lib', '/usr/lib/x86_64-linux-gnu/perl5'),
    ('perl-base', 'perl/base', '/usr/lib/x86_64-linux-gnu/perl-base'),
]
for name, prefix, root in plain:
    add_series(name, prefix, [('1', walk(root, {'__pycache__', '.git'}))])
# site-packages of every pyenv version, as one tree that evolves.
sp = []
for d in sorted(glob.glob('/root/.pyenv/versions/*/lib/python*/site-packages'),
                key=lambda p: vkey(p.split('/')[4])):
    sp.append((d.split('/')[4], walk(d, {'__pycache__'})))
# Only the richest one (the others are mostly just pip/setuptools).
if sp:
    sp.sort(key=lambda t: -len(t[1]))
    add_series('site-packages', 'python/site-packages', sp[:1])
for i, r in enumerate(EXTRA_ROOTS):
    add_series('extra%d' % i, 'extra/' + (os.path.basename(r.rstrip('/')) or 'root'), [('1', walk(r))])

total_files = sum(len(s.versions[0][1]) for s in series)
total_bytes = sum(f[2] for s in series for v in s.versions for f in v[1])
log('source material: %d series, %d initial files, %.0f MB raw across all versions'
    % (len(series), total_files, total_bytes / 1e6))
if total_files == 0:
    log('no source material found')
    sys.exit(1)

# --------------------------------------------------------------------------
# Repository state
# --------------------------------------------------------------------------
tree = {}        # path -> abspath (unmodified) or None (content in mem)
mem = {}         # path -> bytes, for files we have edited
dircount = {}    # directory -> number of files below it
editable = []    # paths of code-like files we may edit
editable_idx = {}
hot = []         # frequently edited files

def dirs_of(path):
    parts = path.split('/')
    return ['/'.join(parts[:i]) for i in range(1, len(parts))]

def can_add(path):
    if path in tree:
        return True
    if path in dircount:
        return False            # a directory of that name exists
    for d in dirs_of(path):
        if d in tree:
            return False        # a parent is a file
    return True

def t_add(path, src):
    if path not in tree:
        for d in dirs_of(path):
            dircount[d] = dircount.get(d, 0) + 1
        ext = os.path.splitext(path)[1]
        if ext in CODE_EXTS and path not in editable_idx:
            editable_idx[path] = len(editable)
            editable.append(path)
            if R.random() < 0.04:
                hot.append(path)
    tree[path] = src

def t_del(path):
    del tree[path]
    mem.pop(path, None)
    for d in dirs_of(path):
        c = dircount[d] - 1
        if c:
            dircount[d] = c
        else:
            del dircount[d]
    i = editable_idx.pop(path, None)
    if i is not None:
        last = editable.pop()
        if last != path:
            editable[i] = last
            editable_idx[last] = i

def content(path):
    if path in mem:
        return mem[path]
    return read(tree[path])

# --------------------------------------------------------------------------
# People, time, messages
# --------------------------------------------------------------------------
FIRST = ('Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj '
         'Olivia Peggy Rupert Sybil Trent Victor Walter Yusuf Zoe Aiko Bruno '
         'Chen Dmitri Esther Farid Gunnar Hana Ines Jonas Kwame Lena Mateo').split()
LAST = ('Smith Jones Nakamura Garcia Muller Rossi Novak Silva Kowalski Okafor '
        'Larsen Dubois Petrov Tanaka Haddad Schmidt Moreau Lindqvist Costa').split()
TZ = ['+0000', '+0100', '+0200', '-0500', '-0800', '+0530', '+0900', '-0300']
AUTHORS = []
for i in range(36):
    fn, ln = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
    AUTHORS.append(('%s %s' % (fn, ln), '%s.%s@example.org' % (fn.lower(), ln.lower()), R.choice(TZ)))
AUTHOR_W = [1.0 / (i + 1) ** 1.1 for i in range(len(AUTHORS))]   # a few prolific people

VERBS = ['Fix', 'Refactor', 'Tidy', 'Clean up', 'Simplify', 'Speed up', 'Document',
         'Harden', 'Rework', 'Adjust', 'Handle edge case in', 'Add tests for',
         'Improve error handling in', 'Remove dead code from', 'Update']
WORDS = ('parser buffer cache index handler config loader encoder decoder '
         'stream reader writer scheduler session client server request '
         'response iterator registry builder resolver allocator').split()

def message(kind, paths, extra=''):
    names = sorted(set(os.path.basename(p) for p in paths))[:3]
    if kind == 'import':
        top = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0])
        subj = 'Import %d files into %s' % (len(paths), top or '/')
    elif kind == 'upgrade':
        subj = extra
    elif kind == 'rename':
        subj = 'Move %s' % extra
    elif kind == 'delete':
        subj = 'Remove obsolete %s' % (names[0] if names else 'file')
    else:
        subj = '%s %s %s' % (R.choice(VERBS), R.choice(WORDS),
                             'in ' + ', '.join(names) if names else '')
    body = ''
    if R.random() < 0.6:
        lines = []
        for _ in range(R.randint(1, 4)):
            lines.append(' '.join(R.choice(WORDS) for _ in range(R.randint(6, 14))) + '.')
        body = '\n\n' + '\n'.join(lines)
        if R.random() < 0.3:
            body += '\n\nSigned-off-by: %s <%s>' % AUTHORS[R.randrange(len(AUTHORS))][:2]
    return (subj.strip() + body + '\n').encode()

# --------------------------------------------------------------------------
# Edits
# --------------------------------------------------------------------------
donors = []      # recent (ext, lines) for realistic inserted blocks

def comment_for(ext):
    if ext in ('.c', '.h', '.cc', '.cpp', '.hpp', '.rs', '.go', '.java', '.js', '.ts'):
        return b'// '
    if ext in ('.css',):
        return b'/* '
    if ext in ('.el', '.lisp', '.scm'):
        return b';; '
    if ext in ('.sql', '.lua'):
        return b'-- '
    if ext in ('.vim',):
        return b'" '
    return b'# '

NUM = re.compile(rb'\d+')
IDENT = re.compile(rb'[A-Za-z_][A-Za-z0-9_]{3,}')

def edit(path, data):
    ext = os.path.splitext(path)[1]
    lines = data.split(b'\n')
    for _ in range(R.choice((1, 1, 1, 2, 2, 3, 4))):
        n = len(lines)
        op = R.random()
        i = R.randrange(n)
        if op < 0.45:                                   # modify a line
            l = lines[i]
            r = R.random()
            if r < 0.35 and NUM.search(l):
                ms = list(NUM.finditer(l))
                m = R.choice(ms)
                l = l[:m.start()] + str(int(m.group()) + R.randint(1, 9)).encode() + l[m.end():]
            elif r < 0.7 and IDENT.search(l):
                ms = list(IDENT.finditer(l))
                m = R.choice(ms)
                w = m.group()
                w = R.choice((w + b'_' + R.choice(WORDS).encode(), w[:-1], w.lower(), w.upper()))
                l = l[:m.start()] + w + l[m.end():]
            else:
                indent = l[:len(l) - len(l.lstrip())]
                l = indent + comment_for(ext) + ' '.join(
                    R.choice(WORDS) for _ in range(R.randint(2, 8))).encode() + \
                    (b' */' if ext == '.css' else b'')
            lines[i] = l
        elif op < 0.8:                                  # insert a block
            k = R.randint(1, 12)
            same = [d for d in donors if d[0] == ext]
            if same and R.random() < 0.7:
                src = R.choice(same)[1]
            else:
                src = lines
            j = R.randrange(max(1, len(src) - k))
            lines[i:i] = src[j:j + k]
        elif n > 20:                                    # delete a few lines
            del lines[i:i + R.randint(1, 8)]
    return b'\n'.join(lines)

# --------------------------------------------------------------------------
# fast-import stream
# --------------------------------------------------------------------------
W = out.write
W(b'feature done\n')
mark = 0
head = None
now = 1420070400              # 2015-01-01
ncommits = 0
tags = 0
last_tag_at = 0

def emit(msg, ops):
    """ops: list of ('M', path, bytes) / ('D', path)."""
    global mark, head, now, ncommits
    mark += 1
    ncommits += 1
    now += int(R.expovariate(1.0 / SECS_PER_COMMIT)) + 60
    a = R.choices(AUTHORS, AUTHOR_W)[0]
    c = a if R.random() < 0.8 else AUTHORS[0]
    W(b'commit refs/heads/main\nmark :%d\n' % mark)
    W(('author %s <%s> %d %s\n' % (a[0], a[1], now - R.randint(0, 7200), a[2])).encode())
    W(('committer %s <%s> %d %s\n' % (c[0], c[1], now, c[2])).encode())
    W(b'data %d\n%s\n' % (len(msg), msg))
    if head:
        W(b'from :%d\n' % head)
    for op in ops:
        if op[0] == 'M':
            mode = b'100755' if op[1].endswith('.sh') else b'100644'
            W(b'M %s inline %s\ndata %d\n' % (mode, op[1].encode(), len(op[2])))
            W(op[2])
            W(b'\n')
        else:
            W(b'D %s\n' % op[1].encode())
    W(b'\n')
    head = mark

def pick_edit_targets(k):
    res = []
    for _ in range(k * 3):
        if len(res) >= k:
            break
        if hot and R.random() < 0.7:
            p = hot[int(len(hot) * R.random() ** 2)]
            if p not in tree:
                continue
        elif editable:
            p = editable[R.randrange(len(editable))]
        else:
            break
        if p not in res:
            res.append(p)
    return res

def edit_ops(k):
    ops = []
    for p in pick_edit_targets(k):
        d = content(p)
        if d is None:
            continue
        nd = edit(p, d)
        if nd != d:
            mem[p] = nd
            tree[p] = None
            ops.append(('M', p, nd))
    return ops

def remember_donor(path, data):
    if len(data) < 200000 and os.path.splitext(path)[1] in CODE_EXTS:
        donors.append((os.path.splitext(path)[1], data.split(b'\n')))
        if len(donors) > 64:
            donors.pop(R.randrange(len(donors)))

# --------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------
EDIT_COMMITS = max(20, int(9000 * SCALE))
AVG_BATCH = 140
import_commits = max(1, total_files // AVG_BATCH)
upgrade_files = sum(len(f) for s in series for _, f in s.versions[1:])
N_EST = EDIT_COMMITS + import_commits + upgrade_files // 60 + 1
SECS_PER_COMMIT = (9 * 365 * 86400) // N_EST       # ~9 years of history
log('plan: ~%d commits (%d edit-only, ~%d import)' % (N_EST, EDIT_COMMITS, import_commits))

# Upgrade times: evenly spread through the history per series.
for s in series:
    nv = len(s.versions)
    s.sched = [int(N_EST * (0.1 + 0.85 * k / nv)) for k in range(1, nv)]

pending = []    # queued upgrade chunks: (series, label, [ops-builders])
imported = 0

def start_upgrade(s):
    s.cur += 1
    label, files = s.versions[s.cur]
    new = {}
    for rel, p, size in files:
        new[s.prefix + '/' + rel] = p
    changes = []
    for path in sorted(new):
        changes.append(('M', path, new[path]))
    for path in sorted(s.live - set(new)):
        changes.append(('D', path, None))
    # chunks of up to ~400 files, a few commits per upgrade
    chunks = [changes[i:i + 400] for i in range(0, len(changes), 400)]
    for ci, ch in enumerate(chunks):
        title = 'Update %s to %s' % (s.name, label)
        if len(chunks) > 1:
            title += ' (part %d/%d)' % (ci + 1, len(chunks))
        pending.append((s, title, ch))

def do_upgrade_chunk(s, title, ch):
    ops = []
    for kind, path, p in ch:
        if kind == 'D':
            if path in tree:
                t_del(path)
                ops.append(('D', path))
            s.live.discard(path)
            continue
        if path in tree and tree[path] is not None and tree[path] != p:
            # unchanged upstream file?  compare cheaply
            try:
                if os.path.getsize(tree[path]) == os.path.getsize(p):
                    a, b = read(tree[path]), read(p)
                    if a == b:
                        tree[path] = p
                        s.live.add(path)
                        continue
            except OSError:
                pass
        if not can_add(path):
            continue
        d = read(p)
        if d is None:
            continue
        mem.pop(path, None)
        t_add(path, p)
        s.live.add(path)
        ops.append(('M', path, d))
    ops += edit_ops(R.randint(0, 3))
    if ops:
        emit(message('upgrade', [o[1] for o in ops], title), ops)

def do_import():
    global imported
    cands = [s for s in series if s.remaining() > 0]
    if not cands:
        return False
    s = R.choices(cands, [s.remaining() * s.weight for s in cands])[0]
    files = s.versions[0][1]
    b = R.randint(20, 2 * AVG_BATCH - 20)
    batch = files[s.next_import:s.next_import + b]
    s.next_import += len(batch)
    ops = []
    for rel, p, size in batch:
        path = s.prefix + '/' + rel
        if not can_add(path):
            continue
        d = read(p)
        if d is None:
            continue
        t_add(path, p)
        s.live.add(path)
        ops.append(('M', path, d))
        remember_donor(path, d)
    imported += len(batch)
    if ops:
        paths = [o[1] for o in ops]
        ops += edit_ops(R.choice((0, 0, 1, 2)))
        emit(message('import', paths), ops)
    return True

def do_rename():
    if not editable:
        return
    p = editable[R.randrange(len(editable))]
    d = content(p)
    if d is None:
        return
    dn, bn = os.path.split(p)
    r = R.random()
    if r < 0.5:
        np_ = dn + '/' + R.choice(('legacy', 'compat', 'internal', 'impl', 'util')) + '/' + bn
    elif r < 0.8 and '/' in dn:
        np_ = os.path.dirname(dn) + '/' + bn
    else:
        stem, ext = os.path.splitext(bn)
        np_ = dn + '/' + stem + '_' + R.choice(WORDS) + ext
    np_ = np_.lstrip('/')
    if np_ == p or np_ in tree or not can_add(np_):
        return
    nd = edit(np_, d) if R.random() < 0.5 else d
    t_del(p)
    t_add(np_, None)
    mem[np_] = nd
    emit(message('rename', [np_], '%s to %s' % (p, np_)), [('D', p), ('M', np_, nd)])

def do_delete():
    if len(editable) < 100:
        return
    p = editable[R.randrange(len(editable))]
    t_del(p)
    emit(message('delete', [p]), [('D', p)])

def maybe_tag():
    global tags, last_tag_at
    if ncommits - last_tag_at >= max(10, N_EST // 14):
        last_tag_at = ncommits
        tags += 1
        ver = 'v%d.%d.0' % (tags // 5, tags % 5) if tags >= 5 else 'v0.%d.0' % tags
        a = AUTHORS[0]
        msg = ('Release %s\n' % ver).encode()
        W(('tag %s\nfrom :%d\ntagger %s <%s> %d %s\ndata %d\n' %
           (ver, head, a[0], a[1], now + 60, a[2], len(msg))).encode() + msg + b'\n')
        if tags % 3 == 0:
            W(('reset refs/heads/release-%s\nfrom :%d\n\n' % (ver[1:].rsplit('.', 1)[0], head)).encode())

# --------------------------------------------------------------------------
# Main loop
# --------------------------------------------------------------------------
i = 0
edit_done = 0
while True:
    i += 1
    for s in series:
        if s.sched and s.remaining() == 0 and i >= s.sched[0]:
            s.sched.pop(0)
            start_upgrade(s)
    imports_left = any(s.remaining() for s in series)
    if pending and R.random() < 0.5:
        do_upgrade_chunk(*pending.pop(0))
    elif imports_left and (imported / total_files) <= (i / N_EST) * 1.1:
        do_import()
    elif edit_done < EDIT_COMMITS or imports_left:
        edit_done += 1
        r = R.random()
        if r < 0.015:
            do_rename()
        elif r < 0.025:
            do_delete()
        else:
            ops = edit_ops(R.choice((1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 8)))
            if ops:
                emit(message('edit', [o[1] for o in ops]), ops)
    elif pending:
        do_upgrade_chunk(*pending.pop(0))
    elif any(s.sched for s in series):
        for s in series:
            while s.sched:
                s.sched.pop(0)
                start_upgrade(s)
    else:
        break
    maybe_tag()
    if ncommits and ncommits % 1000 == 0:
        log('  %d commits, %d/%d files imported' % (ncommits, imported, total_files))

W(b'done\n')
out.flush()
log('stream done: %d commits, %d tags, %d files in final tree' % (ncommits, tags, len(tree)))
PY
git fast-import --quiet --depth=0 --done

log "fast-import done, repacking"
git repack -adf --window=10 --depth=50 -q
git prune-packed
log "repack done, checking connectivity"
git fsck --connectivity-only --no-progress
git symbolic-ref HEAD refs/heads/main

objects=$(git count-objects -v | awk '/^in-pack:/ {print $2}')
loose=$(git count-objects -v | awk '/^count:/ {print $2}')
pack_bytes=0
for p in "$OUT"/objects/pack/*.pack; do
    pack_bytes=$(( pack_bytes + $(stat -c %s "$p") ))
done
commits=$(git rev-list --count main)
log "done in $(( $(date +%s) - start ))s"
echo "objects=$objects pack_bytes=$pack_bytes commits=$commits loose=$loose path=$OUT"
