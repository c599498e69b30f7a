import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adviseOnDockerfile } from '../../../src/core/build/dockerfile-advice';

const lines = (...l: string[]) => l.join('\n') + '\n';

test('COPY . . before RUN npm ci: one warning on the RUN line, naming both lines', () => {
  const advice = adviseOnDockerfile(lines('FROM node:20-alpine', 'WORKDIR /app', 'COPY . .', 'RUN npm ci', 'CMD ["node", "index.js"]'));
  assert.equal(advice.length, 1);
  assert.equal(advice[0].line, 4);
  assert.match(advice[0].message, /^"COPY \. \." \(line 3\) comes before "RUN npm ci" \(line 4\): every code change rebuilds and resends the dependency layer/);
  assert.match(advice[0].message, /copy the dependency manifests .* and install them first, then copy the rest\.$/);
});

test('the manifests copied and installed first, then COPY . .: no advice', () => {
  const npm = lines('FROM node:20', 'WORKDIR /app', 'COPY package.json package-lock.json ./', 'RUN npm ci --omit=dev', 'COPY . .', 'RUN npm run build', 'CMD ["npm", "start"]');
  assert.deepEqual(adviseOnDockerfile(npm), []);
  const pip = lines('FROM python:3.12', 'COPY requirements.txt .', 'RUN pip install -r requirements.txt', 'COPY . .', 'CMD ["python", "app.py"]');
  assert.deepEqual(adviseOnDockerfile(pip), []);
});

test('the same good order with yarn or Go (a build step after COPY . .): no advice', () => {
  const yarn = lines('FROM node:20', 'COPY package.json yarn.lock ./', 'RUN yarn install --frozen-lockfile', 'COPY . .', 'RUN yarn build');
  assert.deepEqual(adviseOnDockerfile(yarn), []);
  const go = lines('FROM golang:1.22', 'COPY go.mod go.sum ./', 'RUN go mod download', 'COPY . .', 'RUN go build -o /app .');
  assert.deepEqual(adviseOnDockerfile(go), []);
});

test('each stage starts clean: COPY . . in one stage and an install in the next is no advice', () => {
  const text = lines('FROM node:20 AS assets', 'COPY . .', 'RUN ls', 'FROM node:20', 'COPY package*.json ./', 'RUN npm install', 'COPY --from=assets /dist ./dist');
  assert.deepEqual(adviseOnDockerfile(text), []);
  // …but the bad order inside a later stage is still found, with that stage's line numbers.
  const later = lines('FROM node:20 AS build', 'COPY package*.json ./', 'RUN npm ci', 'from node:20', 'copy . /app', 'run npm ci --omit=dev');
  assert.deepEqual(adviseOnDockerfile(later).map((a) => a.line), [6]);
  assert.match(adviseOnDockerfile(later)[0].message, /^"copy \. \/app" \(line 5\)/);
});

test('line continuations: the instruction is joined, and reported at its first line', () => {
  const text = lines('FROM node:20', 'COPY --chown=node:node \\', '  . \\', '  /app', 'RUN apk add --no-cache git && \\', '    npm ci', 'CMD ["node"]');
  const advice = adviseOnDockerfile(text);
  assert.equal(advice.length, 1);
  assert.equal(advice[0].line, 5);
  assert.match(advice[0].message, /"COPY --chown=node:node\s+\.\s+\/app" \(line 2\) comes before "RUN apk add --no-cache git &&\s+npm ci" \(line 5\)/);
});

test('ADD . /app before RUN pip install -r requirements.txt warns', () => {
  const advice = adviseOnDockerfile(lines('FROM python:3.12-slim', 'ADD . /app', 'WORKDIR /app', 'RUN pip install -r requirements.txt'));
  assert.deepEqual(advice.map((a) => a.line), [4]);
  assert.match(advice[0].message, /^"ADD \. \/app" \(line 2\) comes before "RUN pip install -r requirements.txt" \(line 4\)/);
});

test('comments are ignored: a commented-out COPY . . or install does not count', () => {
  assert.deepEqual(adviseOnDockerfile(lines('FROM node:20', '# COPY . .', 'COPY package.json .', 'RUN npm ci', '  # RUN npm ci', 'COPY . .')), []);
  assert.deepEqual(adviseOnDockerfile(lines('# syntax=docker/dockerfile:1', 'FROM node:20', 'COPY . .', '# now the deps', '', 'RUN npm ci')).map((a) => a.line), [6]);
});

test('a comment line inside a continued RUN does not end it', () => {
  const advice = adviseOnDockerfile(lines('FROM node:20', 'COPY . .', 'RUN set -eux; \\', '    # the dependencies', '    npm ci'));
  assert.deepEqual(advice.map((a) => a.line), [3]);
});

test('one warning per COPY . ., and none without an install after it', () => {
  assert.equal(adviseOnDockerfile(lines('FROM node:20', 'COPY . .', 'RUN npm ci', 'RUN npm install left-pad')).length, 1);
  assert.deepEqual(adviseOnDockerfile(lines('FROM node:20', 'COPY . .', 'RUN npm run build', 'CMD ["node", "."]')), []);
  assert.deepEqual(adviseOnDockerfile(lines('FROM node:20', 'COPY src/ ./src', 'RUN npm ci')), [], 'only the whole context counts');
  assert.deepEqual(adviseOnDockerfile(''), []);
});

test('CRLF line endings', () => {
  assert.deepEqual(adviseOnDockerfile('FROM node:20\r\nCOPY . .\r\nRUN npm ci\r\n').map((a) => a.line), [3]);
});
