/**
 * The one place that decides how a handler's code reaches Lambda: a directory holding
 * `index.mjs` and the chunks it imports lazily. Run from the TypeScript sources (the
 * repository), the local esbuild bundles it at synth time (CDK's local bundling, never
 * Docker). Run from the published package, the function takes the directory the package
 * build made (`dist/lambda/<name>/`): a consuming app needs neither esbuild nor this
 * project's lock file. Both come from the same options (`handlerEsbuildOptions`).
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Code, Function as LambdaFunction, type FunctionOptions, type Runtime } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { FETCH_BUNDLE, FROM_SOURCES, HANDLERS, PREBUILT_HANDLERS_DIR, PROJECT_ROOT, bundleHandlerSync, type HandlerName } from './bundling';

/** Everything a function takes but its code and handler. */
export interface HandlerFunctionProps extends FunctionOptions {
  readonly runtime: Runtime;
}

/**
 * Never pulled or run: CDK's bundling options require an image, and local bundling always
 * succeeds or throws, so Docker is never asked.
 */
const NO_DOCKER_IMAGE = DockerImage.fromRegistry('mailfetch-bundles-locally-with-esbuild');

/** A Lambda function running the handler `name` (`HANDLERS` in lib/bundling.ts). */
export function handlerFunction(scope: Construct, id: string, name: HandlerName, props: HandlerFunctionProps): LambdaFunction {
  const source = HANDLERS[name];
  return new LambdaFunction(scope, id, {
    ...props,
    code: FROM_SOURCES ? bundledAtSynth(name) : Code.fromAsset(prebuiltHandlerDir(name)),
    handler: `${basename(FETCH_BUNDLE.outFile, '.mjs')}.${source.export}`,
  });
}

/**
 * The handler bundled from the sources when the stack is synthesised (skipped, as for any
 * asset, for stacks outside `aws:cdk:bundling-stacks`). The asset hash is the output's.
 */
function bundledAtSynth(name: HandlerName): Code {
  const entry = join(PROJECT_ROOT, HANDLERS[name].entry);
  return Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: NO_DOCKER_IMAGE,
      // Never set anywhere: CDK caches staged assets by source path and bundling options,
      // and the handlers share the source path. This tells them apart.
      environment: { MAILFETCH_HANDLER_ENTRY: HANDLERS[name].entry },
      local: {
        tryBundle(outputDir: string): boolean {
          bundleHandlerSync(outputDir, entry);
          return true;
        },
      },
    },
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
