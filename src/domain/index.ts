/** The pure domain of the factory: import from here. */
export * from './csv';
export * from './environment';
export * from './inventory';
export * from './lifecycle';
export * from './names';
export * from './network';
export * from './plan';
export * from './problems';
export * from './resolve';
export * from './scheduling';
export * from './validate';
