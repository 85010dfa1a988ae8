"""``playground spaces build|deploy``: run the playground as a Hugging Face Space."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    parser = sub.add_parser("spaces", help="build and deploy a Hugging Face Space")
    inner = parser.add_subparsers(dest="spaces_command", metavar="ACTION", required=True)

    build = inner.add_parser(
        "build", help="assemble a deployable Space folder (app, tabs, package, models, README)"
    )
    build.add_argument("dir", metavar="DIR", help="folder to write the Space into")
    build.add_argument(
        "--models",
        metavar="PATH",
        help="models file for the Space (default: spaces/models.spaces.yaml)",
    )
    build.add_argument("--force", action="store_true", help="replace DIR if it is not empty")
    build.set_defaults(handler=_build)

    deploy = inner.add_parser(
        "deploy",
        help="upload the Space with huggingface_hub (token from HF_TOKEN or `hf auth login`)",
    )
    deploy.add_argument(
        "--repo", required=True, metavar="USER/NAME", help="the Space to create or update"
    )
    deploy.add_argument("--private", action="store_true", help="create the Space as private")
    deploy.add_argument(
        "--dir", metavar="DIR", help="a folder made by `spaces build` (default: build a fresh one)"
    )
    deploy.add_argument("--models", metavar="PATH", help="models file when building a fresh folder")
    deploy.set_defaults(handler=_deploy)


def _build(args: argparse.Namespace) -> int:
    from playground.spaces import build_space

    result = build_space(args.dir, models=args.models, force=args.force)
    print(f"built a Space in {result.folder}: {', '.join(result.files)}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"try it locally: cd {result.folder} && python app.py")
    print(f"deploy it: playground spaces deploy --repo USER/NAME --dir {result.folder}")
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from playground.spaces import deploy_space

    url = deploy_space(args.dir, args.repo, private=args.private, models=args.models)
    print(f"deployed: {url}")
    return 0
