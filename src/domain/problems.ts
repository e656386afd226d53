/**
 * A problem found in a wave plan, located as a person finds it in the file (contracts.md section 4):
 * `row` as a spreadsheet shows it (CSV header = row 1) or, for a JSON plan, the machine's index
 * from 1; row 0 is the plan as a whole (name, settings, project, or a setting passed beside a CSV).
 * `column` is the CSV column name, or the JSON path inside the machine (or inside the plan for row 0).
 * The codes are stable: tools match on them. The table in src/domain/README.md explains each one.
 */
export const PROBLEM_CODES = [
  // the file itself
  'CSV_MALFORMED',
  'CSV_MISSING_COLUMN',
  'CSV_UNKNOWN_COLUMN',
  'PROJECT_MISMATCH',
  'PLAN_EMPTY',
  // one value
  'REQUIRED',
  'INVALID_VALUE',
  'BAD_FLAG',
  'TAG_COUNT_MISMATCH',
  'TOO_MANY_TAGS',
  'INVALID_TARGET_NAME',
  'INVALID_ZONE',
  'INVALID_DISK_TYPE',
  'INVALID_LICENSE_TYPE',
  'ZONE_AND_SET',
  // the plan against itself
  'DUPLICATE_MACHINE',
  'TARGET_NAME_TAKEN',
  'TEST_VM_NAME_TOO_LONG',
  'TEST_NETWORK_MISSING',
  'TEST_NETWORK_IS_TARGET',
  // the plan against the inventory, the landing zone and other waves
  'UNKNOWN_MACHINE',
  'AMBIGUOUS_MACHINE',
  'MACHINE_IN_ACTIVE_WAVE',
  'UNKNOWN_APPLIANCE',
  'NOT_SUITABLE',
  'LEGACY_OS',
  'UNKNOWN_SIZE',
  'UNKNOWN_DISK',
  'UNKNOWN_RESOURCE_GROUP',
  'UNKNOWN_NETWORK',
  'AMBIGUOUS_NETWORK',
  'UNKNOWN_SUBNET',
  'UNKNOWN_AVAILABILITY_SET',
  'ADDRESS_SPACE_OVERLAP',
  'REGION_NOT_SUPPORTED',
] as const;

export type ProblemCode = (typeof PROBLEM_CODES)[number];

export interface Problem {
  row: number;
  column: string;
  code: ProblemCode;
  message: string;
}

/** Where a value of the plan sits in the file it came from. */
export type Locator = (machineIndex: number | undefined, path: string) => { row: number; column: string };

/** JSON plans: row = machine index from 1 (0 for the plan itself), column = path inside it. */
export const jsonLocator: Locator = (machineIndex, path) => ({
  row: machineIndex === undefined ? 0 : machineIndex + 1,
  column: path,
});

/** Problems in file order: by row, then column, then code, so output is stable. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => a.row - b.row || a.column.localeCompare(b.column) || a.code.localeCompare(b.code),
  );
}

/** One line per problem, as the CLI prints them. */
export function formatProblem(problem: Problem): string {
  const where = problem.row === 0 ? problem.column : `row ${problem.row}, ${problem.column}`;
  return `${where}: ${problem.code}: ${problem.message}`;
}
