// TypeScript and Python models from the bundled AsyncAPI document, with @asyncapi/modelina.
//
//   node generate.mjs OUT_DIR     (make codegen-check runs it, then checks the enums are named)
//
// Reads ../../docs/contract/asyncapi.bundled.yaml relative to this file, so it runs from any
// working directory. Writes OUT_DIR/typescript/<Model>.ts and OUT_DIR/python/<Model>.py.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PythonGenerator, TypeScriptGenerator } from "@asyncapi/modelina";

const here = path.dirname(fileURLToPath(import.meta.url));
const documentPath = path.resolve(here, "../../docs/contract/asyncapi.bundled.yaml");
const out = path.resolve(process.argv[2] ?? path.join(here, "out"));

const input = await readFile(documentPath, "utf8");
const generators = {
  typescript: [new TypeScriptGenerator({ modelType: "interface", enumType: "enum" }), "ts"],
  python: [new PythonGenerator(), "py"],
};
for (const [language, [generator, extension]] of Object.entries(generators)) {
  const models = await generator.generate(input);
  const dir = path.join(out, language);
  await mkdir(dir, { recursive: true });
  for (const model of models) {
    await writeFile(path.join(dir, `${model.modelName}.${extension}`), model.result + "\n");
  }
  console.log(`${language}: ${models.length} models -> ${path.relative(process.cwd(), dir) || "."}`);
}
