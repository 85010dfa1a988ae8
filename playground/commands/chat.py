"""``playground chat``: one message to a chat model in a role; prints the reply as it streams."""

from __future__ import annotations

import argparse
import sys

from playground.commands import add_config_arg, open_registry


def register(sub) -> None:
    parser = sub.add_parser(
        "chat",
        help="send one message to a chat model (in a role) and print the reply",
        description="Send MESSAGE ('-' reads it from stdin) to a chat model and print the "
        "reply as it streams. Sampling defaults come from the model's models.yaml entry.",
    )
    add_config_arg(parser)
    parser.add_argument("message", nargs="?", help="the message; '-' reads it from stdin")
    parser.add_argument("--model", metavar="NAME", help="chat model (default: the first one)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--role", metavar="ROLE", help="role id (see --list-roles)")
    who.add_argument("--system", metavar="TEXT", help="a system prompt instead of a role")
    parser.add_argument(
        "--language",
        choices=["en", "zh"],
        default="en",
        help="language of the preset role (default en)",
    )
    parser.add_argument("--temperature", type=float, metavar="T")
    parser.add_argument("--top-p", type=float, metavar="P")
    parser.add_argument("--top-k", type=int, metavar="K")
    parser.add_argument("--repetition-penalty", type=float, metavar="R")
    parser.add_argument("--max-new-tokens", type=int, metavar="N")
    parser.add_argument("--seed", type=int, metavar="S", help="same seed, same reply")
    parser.add_argument(
        "--show-prompt",
        action="store_true",
        help="print the exact prompt sent (to stderr) before the reply",
    )
    parser.add_argument("--list-roles", action="store_true", help="list the preset roles and exit")
    parser.set_defaults(handler=_chat)


def _chat(args: argparse.Namespace) -> int:
    from playground.chat import GenerationSettings, Role, list_roles, load_role, stream_chat
    from playground.errors import InputError

    if args.list_roles:
        for role in list_roles(args.language):
            print(f"{role.id:<18} {role.name} - {role.description}")
        return 0
    if args.message is None:
        raise InputError("give a message to send (or '-' to read it from stdin), or --list-roles")
    message = sys.stdin.read().strip() if args.message == "-" else args.message
    if not message.strip():
        raise InputError("the message is empty")
    registry = open_registry(args.config)
    model = args.model or _first_chat_model(registry, args.config)
    if args.system is not None:
        role = Role(id="cli", name="cli", role=args.system)
    else:
        role = load_role(args.role or "assistant", args.language)
    settings = GenerationSettings.for_model(
        registry,
        model,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
    )
    stream = stream_chat(
        registry, model, role.messages([{"role": "user", "content": message}]), settings
    )
    printed = 0
    for text in stream:
        if printed == 0 and args.show_prompt:
            print(stream.info.prompt, file=sys.stderr)
            print("-" * 40, file=sys.stderr)
        sys.stdout.write(text[printed:])
        sys.stdout.flush()
        printed = len(text)
    sys.stdout.write("\n")
    info = stream.info
    if info.dropped:
        print(
            f"note: {info.dropped} oldest message(s) left out to fit the context window",
            file=sys.stderr,
        )
    return 0


def _first_chat_model(registry, config: str) -> str:
    from playground.errors import InputError

    names = registry.names("chat", "endpoint")
    if not names:
        raise InputError(f"{config} has no chat models; add one (task: chat) or pass --model")
    return names[0]
