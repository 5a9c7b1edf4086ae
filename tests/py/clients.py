"""Other Git implementations against a Guts node: dulwich and pygit2 (libgit2).

Usage: clients.py dulwich|pygit2 URL WORKDIR
Clones, pushes a new commit, fetches it back from a second clone, and checks the results
with the git CLI (fsck, rev-parse). Exits non-zero on any failure.

Usage: clients.py head URL WORKDIR BRANCH TIP
Clones with dulwich and with pygit2 and checks that each checked out BRANCH at TIP (the
remote's HEAD), with the git CLI.
"""
import os
import subprocess
import sys


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def dulwich_flow(url, work):
    from dulwich import porcelain

    a = os.path.join(work, "dul-a")
    porcelain.clone(url, a, checkout=True)
    git(a, "fsck", "--strict", "--no-progress")
    before = git(a, "rev-parse", "HEAD")
    with open(os.path.join(a, "dulwich.txt"), "w") as f:
        f.write("written by dulwich\n")
    porcelain.add(a, [os.path.join(a, "dulwich.txt")])
    new = porcelain.commit(a, message=b"dulwich commit", author=b"D <d@example.com>", committer=b"D <d@example.com>").decode()
    porcelain.push(a, url, refspecs=[b"refs/heads/main:refs/heads/main"])
    remote = subprocess.run(["git", "ls-remote", url, "refs/heads/main"], check=True, capture_output=True, text=True).stdout.split()[0]
    assert remote == new, (remote, new)
    b = os.path.join(work, "dul-b")
    subprocess.run(["git", "clone", "-q", url, b], check=True)
    git(b, "reset", "-q", "--hard", before)
    porcelain.fetch(b, url)
    assert git(b, "rev-parse", "origin/main") == new
    git(b, "fsck", "--strict", "--no-progress")


def pygit2_flow(url, work):
    import pygit2

    a = os.path.join(work, "py-a")
    repo = pygit2.clone_repository(url, a)
    git(a, "fsck", "--strict", "--no-progress")
    before = str(repo.head.target)
    with open(os.path.join(a, "pygit2.txt"), "w") as f:
        f.write("written by libgit2\n")
    repo.index.add("pygit2.txt")
    repo.index.write()
    tree = repo.index.write_tree()
    sig = pygit2.Signature("P", "p@example.com")
    new = str(repo.create_commit("HEAD", sig, sig, "pygit2 commit", tree, [repo.head.target]))
    repo.remotes["origin"].push(["refs/heads/main:refs/heads/main"])
    remote = subprocess.run(["git", "ls-remote", url, "refs/heads/main"], check=True, capture_output=True, text=True).stdout.split()[0]
    assert remote == new, (remote, new)
    b = os.path.join(work, "py-b")
    subprocess.run(["git", "clone", "-q", url, b], check=True)
    git(b, "reset", "-q", "--hard", before)
    repo_b = pygit2.Repository(b)
    repo_b.remotes["origin"].fetch()
    assert git(b, "rev-parse", "origin/main") == new
    git(b, "fsck", "--strict", "--no-progress")


def head_flow(url, work, branch, tip):
    from dulwich import porcelain
    import pygit2

    a = os.path.join(work, "head-dulwich")
    porcelain.clone(url, a, checkout=True)
    assert git(a, "symbolic-ref", "HEAD") == "refs/heads/" + branch, git(a, "symbolic-ref", "HEAD")
    assert git(a, "rev-parse", "HEAD") == tip
    assert os.path.exists(os.path.join(a, "file-0.txt")), "dulwich checked out nothing"
    git(a, "fsck", "--strict", "--no-progress")
    b = os.path.join(work, "head-pygit2")
    repo = pygit2.clone_repository(url, b)
    assert repo.head.shorthand == branch, repo.head.shorthand
    assert str(repo.head.target) == tip
    assert os.path.exists(os.path.join(b, "file-0.txt")), "pygit2 checked out nothing"
    git(b, "fsck", "--strict", "--no-progress")


if __name__ == "__main__":
    if sys.argv[1] == "head":
        head_flow(*sys.argv[2:6])
        print("head: ok")
        sys.exit(0)
    which, url, work = sys.argv[1:4]
    {"dulwich": dulwich_flow, "pygit2": pygit2_flow}[which](url, work)
    print(f"{which}: ok")
