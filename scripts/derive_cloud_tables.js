// Derives greenai's cloud tables from Cloud Carbon Footprint's npm packages (Apache-2.0):
//   crates/greenai-meter/data/cpu_families.tsv   W per vCPU at idle and at full load, per CPU
//                                                microarchitecture (CCF's SPECpower averages)
//   crates/greenai-meter/data/aws_instances.tsv  EC2 instance types: vCPUs, memory, the largest
//                                                size of the family (the host's share
//                                                denominator), the host's embodied emissions
//                                                and its microarchitectures
//   crates/greenai-meter/data/azure_instances.tsv the same for Azure's virtual machine sizes
//                                                (the largest size of the series as the host)
// Usage (see data/SOURCES.md):
//   npm pack @cloud-carbon-footprint/core@1.0.0 @cloud-carbon-footprint/aws@0.15.0 \
//            @cloud-carbon-footprint/azure@1.8.0
//   (unpack each into DIR/core, DIR/aws, DIR/azure)
//   node scripts/derive_cloud_tables.js DIR crates/greenai-meter/data
// The packages' compiled modules are loaded as they ship; the core package's other modules (and
// their dependencies) are not needed, so `@cloud-carbon-footprint/*` resolves to a stand-in that
// holds only the processor-type names.
'use strict';
const Module = require('module');
const path = require('path');
const fs = require('fs');

const [dir, out] = process.argv.slice(2);
if (!dir || !out) {
  console.error('usage: node scripts/derive_cloud_tables.js DIR OUT_DIR');
  process.exit(2);
}
const types = require(path.join(dir, 'core/package/dist/compute/ComputeProcessorTypes.js'));
const standIn = new Proxy({ ...types }, {
  get: (t, k) => (k in t ? t[k] : new Proxy({}, { get: () => 0 })),
});
const load = Module._load;
Module._load = function (request) {
  if (request.startsWith('@cloud-carbon-footprint/')) return standIn;
  return load.apply(this, arguments);
};
const aws = require(path.join(dir, 'aws/package/dist/domain/AwsFootprintEstimationConstants.js')).AWS_CLOUD_CONSTANTS;
const azure = require(path.join(dir, 'azure/package/dist/domain/AzureFootprintEstimationConstants.js')).AZURE_CLOUD_CONSTANTS;
const ec2 = require(path.join(dir, 'aws/package/dist/lib/AWSInstanceTypes.js'));
const azureVms = require(path.join(dir, 'azure/package/dist/lib/VirtualMachineTypes.js'));

// CPU microarchitectures only (the GPU and FPGA rows are per device, not per vCPU).
const cpu = (name) => !/^(Nvidia|AMD Radeon|Xilinx)/.test(name);
const families = new Map();
for (const [who, c] of [['aws', aws], ['azure', azure]]) {
  for (const [name, min] of Object.entries(c.MIN_WATTS_BY_COMPUTE_PROCESSOR)) {
    const max = c.MAX_WATTS_BY_COMPUTE_PROCESSOR[name];
    if (!cpu(name) || max === undefined) continue;
    const seen = families.get(name);
    if (seen && (seen.min !== min || seen.max !== max)) {
      throw new Error(`${name}: ${who} gives ${min}-${max}, another gives ${seen.min}-${seen.max}`);
    }
    families.set(name, { min, max, from: seen ? `${seen.from},${who}` : who });
  }
}
let tsv = '# family\tidle_w_per_vcpu\tmax_w_per_vcpu\tfrom\n';
for (const [name, f] of [...families].sort()) tsv += `${name}\t${f.min}\t${f.max}\t${f.from}\n`;
fs.writeFileSync(path.join(out, 'cpu_families.tsv'), tsv);

const procs = ec2.INSTANCE_TYPE_COMPUTE_PROCESSOR_MAPPING;
let rows = '# instance\tvcpu\tmemory_gib\tfamily_max_vcpu\thost_embodied_kg\tmicroarchitectures\n';
let n = 0;
for (const [family, sizes] of Object.entries(ec2.EC2_INSTANCE_TYPES).sort()) {
  const largest = Math.max(...Object.values(sizes).map((s) => s[0]));
  for (const [size, [vcpu, mem, tonnes]] of Object.entries(sizes)) {
    const name = `${family}.${size}`;
    const arch = Array.isArray(procs[name]) ? procs[name].filter(cpu).join(';') : '';
    rows += `${name}\t${vcpu}\t${mem}\t${largest}\t${(tonnes * 1000).toFixed(1)}\t${arch}\n`;
    n += 1;
  }
}
fs.writeFileSync(path.join(out, 'aws_instances.tsv'), rows);

// Azure: sizes by series, [vCPUs, memory GiB, host tCO2e]; sizes without an embodied figure are
// left out (the table is for the instance's share of a host whose emissions are known).
const azProcs = azureVms.INSTANCE_TYPE_COMPUTE_PROCESSOR_MAPPING;
let az = '# instance\tvcpu\tmemory_gib\tfamily_max_vcpu\thost_embodied_kg\tmicroarchitectures\n';
let m = 0;
let dropped = 0;
for (const [series, sizes] of Object.entries(azureVms.VIRTUAL_MACHINE_TYPE_SERIES_MAPPING).sort()) {
  const largest = Math.max(...Object.values(sizes).map((s) => s[0]));
  for (const [size, [vcpu, mem, tonnes]] of Object.entries(sizes)) {
    if (typeof tonnes !== 'number' || !(tonnes > 0)) { dropped += 1; continue; }
    const arch = Array.isArray(azProcs[size]) ? azProcs[size].filter(cpu).join(';') : '';
    az += `${size}\t${vcpu}\t${mem}\t${largest}\t${(tonnes * 1000).toFixed(1)}\t${arch}\n`;
    m += 1;
  }
}
fs.writeFileSync(path.join(out, 'azure_instances.tsv'), az);
console.error(`${families.size} CPU families, ${n} EC2 instance types, ${m} Azure sizes (${dropped} without an embodied figure left out)`);
