"""Renders the chat templates of test/fixtures/chat-templates/*.jinja over the conversations in
conversations.json with Python's Jinja2 (Debian's python3-jinja2) configured as Hugging Face's
apply_chat_template configures it (sandboxed, trim_blocks, lstrip_blocks, loop controls, its
tojson and raise_exception), with and without the generation prompt, and writes goldens.json.
A template that raises records the message instead of a text.

    python3 tools/reference/render_chat_templates.py
"""
import json
import os

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'chat-templates')


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' override: non-ASCII kept, Python's default separators.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=['jinja2.ext.loopcontrols'])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    return env


def main():
    data = json.load(open(os.path.join(DIR, 'conversations.json')))
    env = environment()
    out = dict(header=dict(script='tools/reference/render_chat_templates.py', reference='Jinja2 %s (Python, sandboxed, trim_blocks, lstrip_blocks)'
                           % jinja2.__version__, layout_version=1), renders={})
    for family, tokens in data['tokens'].items():
        template = env.from_string(open(os.path.join(DIR, family + '.jinja')).read())
        for name, conv in data['conversations'].items():
            for gen in (True, False):
                key = '%s/%s/%s' % (family, name, 'generation' if gen else 'plain')
                try:
                    text = template.render(messages=conv['messages'], tools=conv.get('tools'), add_generation_prompt=gen, **tokens)
                    out['renders'][key] = dict(text=text)
                except jinja2.exceptions.TemplateError as e:
                    out['renders'][key] = dict(error=str(e))
    with open(os.path.join(DIR, 'goldens.json'), 'w') as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write('\n')
    print('%d renders' % len(out['renders']))


if __name__ == '__main__':
    main()
