#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# Copyright (C) 2026 The upnotify authors.
#
# What an HTML page says and asks, as JSON, for the portal scenarios (19, 20): the
# standard library's tolerant parser, so that attribute order, quoting and
# whitespace in the daemon's templates do not matter to the tests.
#
#   htmlform.py FILE      (or - for stdin)
#
# prints one object:
#   title     the <title>'s text
#   text      the visible text (no script/style/title), whitespace squeezed
#   forms     [{action, method (lower case), fields: {name: value} of the inputs
#             (hidden, text, email, ...; not submit buttons), textareas and selects,
#             buttons: [{name, value, text}] of the submit buttons and inputs}]
#   external  the resources the page would load from elsewhere: src of any element,
#             <link href>, url(...) in style, that begin with a scheme or "//"
#             (links in <a href> and form actions are not resources)
import json
import re
import sys
from html.parser import HTMLParser

EXTERNAL = re.compile(r'^\s*([a-zA-Z][a-zA-Z0-9+.-]*:|//)')
CSS_URL = re.compile(r'url\(\s*[\'"]?([^\'")]+)')


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ''
        self.text = []
        self.forms = []
        self.external = []
        self.stack = []
        self.form = None
        self.button = None
        self.textarea = None

    def _resource(self, url):
        if url and EXTERNAL.match(url) and not url.strip().lower().startswith('data:'):
            self.external.append(url)

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else '') for k, v in attrs}
        if tag not in ('input', 'br', 'img', 'meta', 'link', 'hr'):
            self.stack.append(tag)
        if 'src' in a:
            self._resource(a['src'])
        if tag == 'link':
            self._resource(a.get('href', ''))
        for u in CSS_URL.findall(a.get('style', '')):
            self._resource(u)
        if tag == 'form':
            self.form = {'action': a.get('action', ''),
                         'method': a.get('method', 'get').lower(),
                         'fields': {}, 'buttons': []}
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == 'input':
            t = a.get('type', 'text').lower()
            if t in ('submit', 'image'):
                self.form['buttons'].append({'name': a.get('name', ''),
                                             'value': a.get('value', ''),
                                             'text': a.get('value', '')})
            elif t in ('checkbox', 'radio'):
                if 'checked' in a and 'name' in a:
                    self.form['fields'][a['name']] = a.get('value', 'on')
            elif 'name' in a:
                self.form['fields'][a['name']] = a.get('value', '')
        elif tag == 'button':
            if a.get('type', 'submit').lower() == 'submit':
                self.button = {'name': a.get('name', ''), 'value': a.get('value', ''),
                               'text': ''}
                self.form['buttons'].append(self.button)
        elif tag == 'textarea' and 'name' in a:
            self.textarea = a['name']
            self.form['fields'][a['name']] = ''
        elif tag == 'select' and 'name' in a:
            self.form['fields'][a['name']] = ''

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass
        if tag == 'form':
            self.form = None
        elif tag == 'button':
            self.button = None
        elif tag == 'textarea':
            self.textarea = None

    def handle_data(self, data):
        inside = set(self.stack)
        if 'title' in inside:
            self.title += data
            return
        if 'style' in inside:
            for u in CSS_URL.findall(data):
                self._resource(u)
            return
        if 'script' in inside:
            return
        if self.button is not None:
            self.button['text'] += data
        if self.textarea is not None and self.form is not None:
            self.form['fields'][self.textarea] += data
        self.text.append(data)


def squeeze(s):
    return ' '.join(s.split())


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else '-'
    raw = sys.stdin.buffer.read() if src == '-' else open(src, 'rb').read()
    p = Page()
    p.feed(raw.decode('utf-8', errors='replace'))
    p.close()
    for f in p.forms:
        for b in f['buttons']:
            b['text'] = squeeze(b['text'])
    json.dump({'title': squeeze(p.title), 'text': squeeze(' '.join(p.text)),
               'forms': p.forms, 'external': p.external}, sys.stdout)
    print()


if __name__ == '__main__':
    main()
