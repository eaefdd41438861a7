// A small protobuf text-format printer for test vectors, written independently of protobuf-es's
// own `toText` so that the protoc comparison checks two implementations against each other.
// Fields are printed in field-number order; repeated fields and map entries in the order the
// message holds them (for maps: JS object key order, which is the order `toBinary` writes).
import { ScalarType, type DescField, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';

const utf8 = new TextEncoder();

function quoteBytes(bytes: Uint8Array): string {
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b < 0x7f && b !== 0x27) out += String.fromCharCode(b);
    else out += '\\' + b.toString(8).padStart(3, '0');
  }
  return out + '"';
}

function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Number.POSITIVE_INFINITY) return 'inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  if (Object.is(v, -0)) return '-0';
  // Shortest round-trip decimal of the double; float fields hold float32-exact values, so
  // protoc's parse-as-double-then-narrow is exact.
  return String(v);
}

function formatScalar(type: ScalarType, value: unknown): string {
  switch (type) {
    case ScalarType.STRING:
      return quoteBytes(utf8.encode(value as string));
    case ScalarType.BYTES:
      return quoteBytes(value as Uint8Array);
    case ScalarType.BOOL:
      return value ? 'true' : 'false';
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return formatFloat(value as number);
    default:
      return String(value);
  }
}

function formatEnum(field: DescField, value: number): string {
  const e = field.enum;
  const v = e?.values.find((x) => x.number === value);
  return v === undefined ? String(value) : v.name;
}

function printFields(r: ReflectMessage, indent: string, out: string[]): void {
  for (const f of r.sortedFields) {
    if (!r.isSet(f)) continue;
    switch (f.fieldKind) {
      case 'scalar':
        out.push(`${indent}${f.name}: ${formatScalar(f.scalar, r.get(f))}`);
        break;
      case 'enum':
        out.push(`${indent}${f.name}: ${formatEnum(f, r.get(f))}`);
        break;
      case 'message':
        out.push(`${indent}${f.name} {`);
        printFields(r.get(f), indent + '  ', out);
        out.push(`${indent}}`);
        break;
      case 'list':
        for (const item of r.get(f)) {
          if (f.listKind === 'message') {
            out.push(`${indent}${f.name} {`);
            printFields(item as ReflectMessage, indent + '  ', out);
            out.push(`${indent}}`);
          } else if (f.listKind === 'enum') {
            out.push(`${indent}${f.name}: ${formatEnum(f, item as number)}`);
          } else {
            out.push(`${indent}${f.name}: ${formatScalar(f.scalar, item)}`);
          }
        }
        break;
      case 'map':
        for (const [key, value] of r.get(f)) {
          out.push(`${indent}${f.name} {`);
          out.push(`${indent}  key: ${formatScalar(f.mapKey, key)}`);
          if (f.mapKind === 'message') {
            out.push(`${indent}  value {`);
            printFields(value as ReflectMessage, indent + '    ', out);
            out.push(`${indent}  }`);
          } else if (f.mapKind === 'enum') {
            out.push(`${indent}  value: ${formatEnum(f, value as number)}`);
          } else {
            out.push(`${indent}  value: ${formatScalar(f.scalar, value)}`);
          }
          out.push(`${indent}}`);
        }
        break;
    }
  }
}

/** Prints `message` in protobuf text format (one field per line), as protoc `--encode` reads it. */
export function printText<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): string {
  const out: string[] = [];
  printFields(reflect(schema, message), '', out);
  return out.join('\n') + '\n';
}
