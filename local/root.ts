import path from 'node:path';

/** The project root, whether this runs from source (local/) or from the build (dist/local/). */
export const PROJECT_ROOT =
  path.basename(path.dirname(__dirname)) === 'dist'
    ? path.resolve(__dirname, '..', '..')
    : path.resolve(__dirname, '..');
