"""``playground agent create|list|chat|export|import|rename|delete``: agents from a shell.

Agents live in the app's data folder under the same owner as in the app: a
user who logs in as ``alice`` is ``--user alice`` here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playground.commands import add_config_arg, open_registry


def register(sub) -> None:
    parser = sub.add_parser("agent", help="create, list, talk to and share agents")
    inner = parser.add_subparsers(dest="agent_command", metavar="ACTION", required=True)

    create = _sub(inner, "create", "save a new agent from a role and your parts", _create)
    create.add_argument("name")
    who = create.add_mutually_exclusive_group()
    who.add_argument("--role", metavar="ID", help="a preset or saved role id (default assistant)")
    who.add_argument("--role-card", metavar="FILE", help="a role card (.json or character .png)")
    who.add_argument("--system", metavar="TEXT", help="a system prompt instead of a role")
    create.add_argument("--model", metavar="NAME", help="chat model (default: the first one)")
    create.add_argument("--adapter", metavar="NAME", help="one of your fine-tuned adapters")
    create.add_argument("--collection", metavar="NAME", help="one of your document collections")
    create.add_argument("--voice", metavar="NAME", help="one of your saved voices")
    create.add_argument("--picture", metavar="FILE", help="a PNG, JPEG or WebP picture")
    create.add_argument("--seed", type=int, help="a fixed sampling seed (same seed, same reply)")
    create.add_argument("--temperature", type=float)
    create.add_argument("--max-new-tokens", type=int)
    create.add_argument("--k", type=int, default=4, help="passages retrieved per turn")
    create.add_argument("--min-relevance", type=float, help="relevance threshold for sources")
    create.add_argument("--no-grounding", action="store_true", help="do not retrieve by default")

    _sub(inner, "list", "list your agents", _list)

    chat = _sub(inner, "chat", "send one message to an agent and print the reply", _chat)
    chat.add_argument("name")
    chat.add_argument("message", help="the message; '-' reads it from stdin")
    chat.add_argument("--seed", type=int)
    chat.add_argument("--no-grounding", action="store_true", help="answer without retrieving")
    chat.add_argument("--speak-to", metavar="WAV", help="also speak the reply in its voice")

    export = _sub(inner, "export", "write an agent to one .zip file", _export)
    export.add_argument("name")
    export.add_argument("out", help="the .zip to write")
    export.add_argument("--include-documents", action="store_true", help="add the collection")
    export.add_argument(
        "--include-voice", action="store_true", help="add the voice and its consent record"
    )

    imp = _sub(inner, "import", "import an agent .zip as a new agent of yours", _import)
    imp.add_argument("file")
    imp.add_argument("--name", help="name it differently")

    rename = _sub(inner, "rename", "rename one of your agents", _rename)
    rename.add_argument("name")
    rename.add_argument("new_name")
    delete = _sub(inner, "delete", "delete one of your agents", _delete)
    delete.add_argument("name")


def _sub(inner, name: str, help_text: str, handler) -> argparse.ArgumentParser:
    parser = inner.add_parser(name, help=help_text, description=help_text)
    add_config_arg(parser)
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("PLAYGROUND_DATA", "data"),
        metavar="DIR",
        help="the app's data folder (default: ./data)",
    )
    parser.add_argument(
        "--user", default="local", help="whose agents: the login name used in the app"
    )
    parser.set_defaults(handler=handler)
    return parser


def _owner(args: argparse.Namespace) -> str:
    return f"user-{args.user}"  # the same owner id the app gives a logged-in user


def _store(args: argparse.Namespace):
    from playground.agents import AgentStore

    return AgentStore.for_owner(args.data_dir, _owner(args))


def _create(args: argparse.Namespace) -> int:
    from playground.agents import AgentSettings
    from playground.finetune.engine import register_finished

    registry = open_registry(args.config)
    register_finished(registry, args.data_dir, _owner(args))  # the user's own adapters
    generation = {
        k: v
        for k, v in {
            "seed": args.seed,
            "temperature": args.temperature,
            "max_new_tokens": args.max_new_tokens,
        }.items()
        if v is not None
    }
    settings = AgentSettings(generation=generation, grounding=not args.no_grounding, k=args.k,
                             min_relevance=args.min_relevance)  # fmt: skip
    settings = AgentSettings.from_dict(vars(settings))
    picture = Path(args.picture).read_bytes() if args.picture else None
    agent = _store(args).create(
        registry, args.name, _role(args), model=args.model, adapter=args.adapter,
        collection=args.collection, voice=args.voice, picture=picture, settings=settings,
    )  # fmt: skip
    print(
        f"created agent '{agent.name}' ({', '.join(agent.parts())}) talking through {agent.model}"
    )
    return 0


def _role(args: argparse.Namespace):
    from playground.chat import Role, import_card, load_role
    from playground.storage import user_dir

    if args.system is not None:
        return Role(id="agent", name=args.name, role=args.system)
    if args.role_card:
        path = Path(args.role_card)
        if not path.is_file():
            from playground.errors import InputError

            raise InputError(f"--role-card {path}: file not found")
        return import_card(path.read_bytes(), name=path.name)
    folder = user_dir(args.data_dir, _owner(args), "roles")
    return load_role(args.role or "assistant", user_roles=folder)


def _list(args: argparse.Namespace) -> int:
    agents = _store(args).list()
    if not agents:
        print(f"no agents for user '{args.user}' in {args.data_dir}")
        return 0
    print(f"{'NAME':<24} {'MODEL':<24} {'REV':>3}  PARTS")
    for agent in agents:
        print(f"{agent.name:<24} {agent.model:<24} {agent.revision:>3}  {', '.join(agent.parts())}")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from playground.agents import talk

    message = sys.stdin.read().strip() if args.message == "-" else args.message
    registry = open_registry(args.config)
    printed, turn = 0, None
    for turn in talk(registry, args.data_dir, _owner(args), args.name, message,
                     grounding=False if args.no_grounding else None,
                     speak=bool(args.speak_to), seed=args.seed):  # fmt: skip
        sys.stdout.write(turn.text[printed:])
        sys.stdout.flush()
        printed = len(turn.text)
    sys.stdout.write("\n")
    for n, hit in enumerate(turn.sources, 1):
        where = hit.chunk.source + (f", page {hit.chunk.page}" if hit.chunk.page else "")
        print(f"[{n}] {where}: {' '.join(hit.chunk.text.split())[:100]}")
    if args.speak_to:
        _write_speech(turn, args.speak_to)
    return 0


def _write_speech(turn, path: str) -> None:
    from playground.errors import InputError
    from playground.voice.audio import write_wav

    joined = turn.speech_audio()
    if joined is None:
        raise InputError(f"agent '{turn.agent}' has no voice, or the reply had nothing to say.")
    metadata = dict(turn.speech[0].metadata, text=turn.text)
    write_wav(path, joined[0], joined[1], metadata)
    print(f"speech: {path} ({len(turn.speech)} sentence(s))", file=sys.stderr)


def _export(args: argparse.Namespace) -> int:
    from playground.agents import export_agent

    path = export_agent(args.data_dir, _owner(args), args.name, args.out,
                        include_documents=args.include_documents,
                        include_voice=args.include_voice)  # fmt: skip
    print(f"exported '{args.name}' to {path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from playground.agents import import_agent

    registry = open_registry(args.config)
    agent = import_agent(registry, args.data_dir, _owner(args), args.file, name=args.name)
    print(f"imported agent '{agent.name}' ({', '.join(agent.parts())})")
    return 0


def _rename(args: argparse.Namespace) -> int:
    agent = _store(args).rename(args.name, args.new_name)
    print(f"renamed to '{agent.name}'")
    return 0


def _delete(args: argparse.Namespace) -> int:
    _store(args).delete(args.name)
    print(f"deleted '{args.name}'")
    return 0
