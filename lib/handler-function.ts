/**
 * The one place that decides how a handler's code reaches Lambda. Run from the TypeScript
 * sources (the repository), `NodejsFunction` bundles it at synth time with the local
 * esbuild. Run from the published package, the function takes the bundle the package build
 * made (`dist/lambda/<name>/`): a consuming app needs neither esbuild nor this project's
 * lock file. Both bundles come from the same options (lib/bundling.ts).
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Code, Function as LambdaFunction, type FunctionOptions, type Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import {
  DEPS_LOCK_FILE_PATH,
  FETCH_BUNDLE,
  FROM_SOURCES,
  HANDLERS,
  PREBUILT_HANDLERS_DIR,
  PROJECT_ROOT,
  fetchBundlingOptions,
  type HandlerName,
} from './bundling';

/** Everything a function takes but its code and handler. */
export interface HandlerFunctionProps extends FunctionOptions {
  readonly runtime: Runtime;
}

/** A Lambda function running the handler `name` (`HANDLERS` in lib/bundling.ts). */
export function handlerFunction(scope: Construct, id: string, name: HandlerName, props: HandlerFunctionProps): LambdaFunction {
  const source = HANDLERS[name];
  if (FROM_SOURCES) {
    return new NodejsFunction(scope, id, {
      ...props,
      entry: join(PROJECT_ROOT, source.entry),
      handler: source.export,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: DEPS_LOCK_FILE_PATH,
      bundling: fetchBundlingOptions(),
    });
  }
  return new LambdaFunction(scope, id, {
    ...props,
    code: Code.fromAsset(prebuiltHandlerDir(name)),
    // What NodejsFunction sets: `<bundle file without extension>.<export>`.
    handler: `${basename(FETCH_BUNDLE.outFile, '.mjs')}.${source.export}`,
  });
}

/** `dist/lambda/<name>`, which the package build fills; a clear error when it did not run. */
export function prebuiltHandlerDir(name: HandlerName): string {
  const dir = join(PREBUILT_HANDLERS_DIR, name);
  if (!existsSync(join(dir, FETCH_BUNDLE.outFile))) {
    throw new Error(`mailfetch: the pre-bundled ${name} handler is missing (${dir}); this copy of the package was not built ('npm run build' makes it)`);
  }
  return dir;
}
