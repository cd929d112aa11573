// The zfkeras tab of TensorBoard: a plain ES module (no build step), run by
// TensorBoard inside an iframe. render() builds the page; the Units, Classes
// and Images views are units.js, classes.js and images.js.
import {api, el, note, readLink} from './common.js';
import {UnitsView} from './units.js';
import {ImagesView} from './images.js';
import {ClassesView} from './classes.js';

const VIEWS = {units: UnitsView, classes: ClassesView, images: ImagesView};

export async function render() {
  document.head.append(el('link', {rel: 'stylesheet', href: 'style.css'}));
  const link = readLink();
  const status = el('span', {class: 'status', id: 'status'});
  const runSelect = el('select', {id: 'run', title: 'run'});
  const tabs = {units: el('button', {id: 'tab-units'}, 'Units'), classes: el('button', {id: 'tab-classes'}, 'Classes'),
                images: el('button', {id: 'tab-images'}, 'Images')};
  const main = el('main', {id: 'main'});
  document.body.append(el('header', {}, el('b', {}, 'zfkeras explorer'), ' run ', runSelect,
                          tabs.units, tabs.classes, tabs.images, status), main);
  let runs;
  try {
    runs = (await api('runs')).runs;
  } catch (error) {
    main.append(note(`Cannot list the runs: ${error.message}`, 'error'));
    return;
  }
  if (!runs.length) {
    main.append(note('No zfkeras run or explore entry under the log folder.'));
    return;
  }
  for (const run of runs) runSelect.append(el('option', {value: run.id}, `${run.id} (${run.kind})`));
  if (link.run && runs.some((run) => run.id === link.run)) runSelect.value = link.run;

  let view = null;
  let current = Object.hasOwn(VIEWS, link.view || '') ? link.view : 'units';
  let info = null;
  const show = (name) => {
    current = name;
    for (const [key, button] of Object.entries(tabs)) button.classList.toggle('active', key === name);
    if (view && view.stop) view.stop();
    main.replaceChildren();
    if (!info) return;
    view = new VIEWS[name](main, info, link);
    view.start();
  };
  const openRun = async () => {
    info = null;
    main.replaceChildren(note(`Loading ${runSelect.value}'s model...`));
    status.textContent = '';
    try {
      info = await api('info', {run: runSelect.value});
    } catch (error) {
      main.replaceChildren(note(`Cannot open ${runSelect.value}: ${error.message}`, 'error'));
      return;
    }
    status.textContent = `${info.title}: ${info.input_shape.join('x')} input, ${info.test_images} images`;
    show(current);
  };
  for (const [name, button] of Object.entries(tabs)) button.addEventListener('click', () => show(name));
  runSelect.addEventListener('change', () => {
    for (const key of ['layer', 'map']) delete link[key];
    openRun();
  });
  await openRun();
}
